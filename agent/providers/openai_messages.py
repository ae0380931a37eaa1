"""Pure translation between the agent's dialog values and OpenAI's chat-completions wire shapes.

* :func:`chat_messages`: a :class:`DialogContext` to the ``messages`` list (system prompt, then history with
  assistant ``tool_calls`` and ``tool`` results);
* :func:`chat_tools`: :class:`ToolSpec`\\ s to ``tools`` entries of type ``function``;
* :class:`ToolCallAssembler`: streamed ``delta.tool_calls`` fragments, keyed by ``index``, back into whole
  :class:`ToolCall`\\ s with parsed JSON arguments.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.interfaces import DialogContext, Message, ProviderError, ToolCall, ToolSpec

ChatMessage = dict[str, Any]


def chat_messages(context: DialogContext) -> list[ChatMessage]:
    """The request's ``messages``: one system message, then the conversation in order."""
    messages: list[ChatMessage] = [{"role": "system", "content": system_prompt(context)}]
    messages.extend(_chat_message(message) for message in context.history)
    return messages


def system_prompt(context: DialogContext) -> str:
    """The organization's instructions followed by the facts of this call the model cannot know."""
    facts = [
        f"You are {context.agent_name}, the AI assistant answering for {context.business_name}.",
        f"This is an {context.direction} phone call; speak {context.language}.",
    ]
    if context.now is not None:
        facts.append(f"Local time: {_local_time(context.now, context.timezone)}.")
    if known := context.qualification.as_dict():
        facts.append(f"Known about the caller so far: {json.dumps(known, sort_keys=True, default=str)}.")
    return "\n\n".join(part for part in (context.instructions.strip(), " ".join(facts)) if part)


def chat_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
        }
        for tool in tools
    ]


def _chat_message(message: Message) -> ChatMessage:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _local_time(now: datetime, timezone: str) -> str:
    try:
        local = now.astimezone(ZoneInfo(timezone))
    except ZoneInfoNotFoundError:
        return now.strftime("%A %Y-%m-%d %H:%M %Z").strip()
    return local.strftime(f"%A %Y-%m-%d %H:%M ({timezone})")


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Accumulates streamed tool-call fragments; the first fragment of a call carries its id and name."""

    def __init__(self) -> None:
        self._calls: dict[int, _PartialCall] = {}

    def add(self, *, index: int, id: str | None, name: str | None, arguments: str | None) -> None:
        call = self._calls.setdefault(index, _PartialCall())
        call.id = call.id or id or ""
        call.name = call.name or name or ""
        if arguments:
            call.arguments.append(arguments)

    def complete(self) -> list[ToolCall]:
        """The assembled calls in index order; malformed ones are the provider's failure."""
        calls = []
        for index in sorted(self._calls):
            partial = self._calls[index]
            if not partial.id or not partial.name:
                raise ProviderError(f"OpenAI streamed tool call #{index} without an id or a name")
            text = "".join(partial.arguments).strip() or "{}"
            try:
                arguments = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ProviderError(f"OpenAI streamed invalid JSON arguments for {partial.name}") from exc
            if not isinstance(arguments, dict):
                raise ProviderError(f"OpenAI streamed non-object arguments for {partial.name}")
            calls.append(ToolCall(id=partial.id, name=partial.name, arguments=arguments))
        self._calls.clear()
        return calls
