"""Dialog on OpenAI chat completions, streamed, with function tools.

Text deltas are yielded as they arrive so speech synthesis can start on the first sentence; tool calls are
yielded once the stream ends, when their arguments are complete. Every failure (HTTP status, connection,
read timeout, nothing within ``first_token_timeout``, malformed tool call) surfaces as
:class:`ProviderError`, for the agent to fall back on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionChunk

from agent.interfaces import DialogContext, DialogEvent, ProviderError, TextDelta, ToolSpec
from agent.providers.openai_messages import ToolCallAssembler, chat_messages, chat_tools

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIDialog:
    """The LLM dialog; one instance (one connection pool) serves every call."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        temperature: float | None = 0.3,
        first_token_timeout: float = 4.0,
        read_timeout: float = 10.0,
        connect_timeout: float = 3.0,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        """``http_client``: the HTTP client to send requests with (its transport, say); the SDK's own by default."""
        self.model = model
        self._temperature = temperature
        self._first_token_timeout = first_token_timeout
        # No retries: a retried request would arrive after the caller has given up waiting; the agent's
        # fallback answers instead.
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=openai.Timeout(read_timeout, connect=connect_timeout),
            http_client=http_client,
        )

    async def respond(self, context: DialogContext, tools: Sequence[ToolSpec]) -> AsyncIterator[DialogEvent]:
        request: dict[str, Any] = {"model": self.model, "messages": chat_messages(context), "stream": True}
        if tools:
            request["tools"] = chat_tools(tools)
        if self._temperature is not None:
            request["temperature"] = self._temperature
        stream: openai.AsyncStream[ChatCompletionChunk] | None = None
        try:
            try:
                async with asyncio.timeout(self._first_token_timeout):
                    stream = await self._client.chat.completions.create(**request)
                    chunks = aiter(stream)
                    assembler = ToolCallAssembler()
                    first = await _first_events(chunks, assembler)
            except TimeoutError as exc:
                raise ProviderError(
                    f"OpenAI sent no token within {self._first_token_timeout:.1f} s"
                ) from exc
            for event in first:
                yield event
            async for chunk in chunks:
                for event in _chunk_events(chunk, assembler):
                    yield event
            for call in assembler.complete():
                yield call
        except openai.APIStatusError as exc:
            raise ProviderError(f"OpenAI answered {exc.status_code}: {_error_message(exc)}") from exc
        except openai.APITimeoutError as exc:
            raise ProviderError("OpenAI timed out") from exc
        except openai.APIError as exc:
            raise ProviderError(f"OpenAI request failed: {exc.message}") from exc
        finally:
            if stream is not None:
                with contextlib.suppress(openai.APIError):
                    await stream.close()

    async def aclose(self) -> None:
        await self._client.close()


async def _first_events(chunks: AsyncIterator[ChatCompletionChunk], assembler: ToolCallAssembler) -> list[DialogEvent]:
    """Read until the reply has begun (text or a tool call) or the stream ends."""
    async for chunk in chunks:
        if events := _chunk_events(chunk, assembler):
            return events
        if any(choice.delta.tool_calls for choice in chunk.choices):
            return []
    return []


def _chunk_events(chunk: ChatCompletionChunk, assembler: ToolCallAssembler) -> list[DialogEvent]:
    events: list[DialogEvent] = []
    for choice in chunk.choices[:1]:  # one completion requested (n=1)
        delta = choice.delta
        if delta.content:
            events.append(TextDelta(delta.content))
        for fragment in delta.tool_calls or ():
            function = fragment.function
            assembler.add(
                index=fragment.index,
                id=fragment.id,
                name=function.name if function else None,
                arguments=function.arguments if function else None,
            )
    return events


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(message, str):
            return message[:200]
    return exc.message[:200]
