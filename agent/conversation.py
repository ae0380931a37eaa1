"""The dialog's view of a call: the history as the caller heard it, and what is known about them.

The first message is the system prompt, rebuilt before each dialog call so a language model always sees the
current time and qualification. An agent reply enters the history when it has been produced; if the caller
then cuts it short, its message is rewritten to the part they heard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from agent import qualification
from agent.config import SessionConfig
from agent.interfaces import DialogContext, Message, Qualification, ToolCall
from agent.places import Places
from agent.playback import SpokenReply
from agent.prompts import build_system_prompt


class Conversation:
    """History and qualification of one call."""

    def __init__(self, config: SessionConfig, *, wall_clock: Callable[[], datetime]) -> None:
        self._config = config
        self._wall_clock = wall_clock
        self._history: list[Message] = [Message("system", "")]
        self.qualification = Qualification()
        self._places = Places.with_service_areas(config.service_areas)
        self._refresh_prompt()

    @property
    def history(self) -> list[Message]:
        """A copy of the history: system prompt, then the conversation as heard."""
        return list(self._history)

    def context(self) -> DialogContext:
        """What a dialog is given for its next reply (copies: the dialog cannot change the call's state)."""
        self._refresh_prompt()
        return self._context(list(self._history))

    def caller_said(self, text: str, *, confidence: float | None = None) -> None:
        """A caller turn: into the history, and into the qualification (read against the last question)."""
        last_question = next((m.content for m in reversed(self._history) if m.role == "assistant" and m.content), "")
        self._history.append(Message("user", text, confidence=confidence))
        self.qualification = qualification.update(
            self.qualification, text, last_question=last_question, places=self._places
        )

    def agent_said(self, reply: SpokenReply, calls: list[ToolCall]) -> None:
        """A reply produced (and, unless cut later, heard) with the tool calls it asked for."""
        text = reply.heard_text()
        if not text and not calls:
            return
        reply.history_index = len(self._history)
        self._history.append(Message("assistant", text, tool_calls=tuple(calls)))

    def cut_short(self, reply: SpokenReply) -> None:
        """The caller interrupted ``reply``: keep only the part they heard."""
        index = reply.history_index
        if index is None:
            return
        message = self._history[index]
        text = reply.heard_text()
        if not text and not message.tool_calls and index == len(self._history) - 1:
            self._history.pop()
            reply.history_index = None
            return
        self._history[index] = replace(message, content=text)

    def tool_result(self, call: ToolCall, content: str) -> None:
        self._history.append(Message("tool", content, tool_call_id=call.id))

    def _refresh_prompt(self) -> None:
        prompt = build_system_prompt(
            self._context([]),
            callback_number=self._config.identity.callback_number,
            offer_opt_out=self._config.compliance.interactive_opt_out,
        )
        self._history[0] = Message("system", prompt)

    def _context(self, history: list[Message]) -> DialogContext:
        cfg = self._config
        return DialogContext(
            business_name=cfg.identity.business_name,
            agent_name=cfg.identity.agent_name,
            language=cfg.language,
            direction=cfg.direction,
            purpose=cfg.purpose,
            history=history,
            qualification=replace(self.qualification),
            now=self._wall_clock(),
            timezone=cfg.timezone,
            instructions=cfg.instructions,
            can_transfer=cfg.transfer_available,
            service_areas=cfg.service_areas,
        )
