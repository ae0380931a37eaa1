"""The dialog's side of a reply: its streamed events cut into speakable chunks, as they arrive.

Runs as the producer of a reply (the speaker consumes the chunks), so the dialog keeps streaming while
earlier chunks are synthesized and played. A dialog that fails, or is late by the call's silence budget
(:class:`agent.line_watch.LineWatch`), raises :class:`DialogFailed` and is closed, so that nothing it sends
later is spoken; the chunks already produced stay valid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.chunking import ChunkingConfig, SentenceChunker
from agent.clock import Clock
from agent.config import Timeouts
from agent.interfaces import Dialog, DialogContext, TextDelta, ToolCall, ToolSpec
from agent.line_watch import LineWatch


class DialogFailed(Exception):
    """The dialog raised or timed out; ``__cause__`` holds the provider's error, ``cost_s`` how long the
    failing wait lasted."""

    def __init__(self, message: str, *, cost_s: float) -> None:
        super().__init__(message)
        self.cost_s = cost_s


@dataclass(slots=True)
class DialogTiming:
    """First-occurrence timestamps of one reply's dialog stage (session clock, seconds)."""

    started_at: float | None = None
    first_token_at: float | None = None
    first_chunk_at: float | None = None


@dataclass(slots=True)
class DialogOutput:
    text: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)


async def produce_chunks(
    *,
    dialog: Dialog,
    context: DialogContext,
    tools: Sequence[ToolSpec],
    chunking: ChunkingConfig,
    timeouts: Timeouts,
    watch: LineWatch,
    watched: bool,
    clock: Clock,
    timing: DialogTiming,
    chunks: asyncio.Queue[str | None],
    output: DialogOutput,
) -> None:
    """Stream ``dialog``'s reply into ``chunks`` (ending with None, always) and tool calls into ``output``.

    ``watched``: hold the dialog to the call's silence budget (it has a fallback)."""
    chunker = SentenceChunker(chunking)
    if timing.started_at is None:
        timing.started_at = clock.now()
    iterator = dialog.respond(context, tools).__aiter__()
    timeout = timeouts.dialog_first_token
    try:
        while True:
            started = clock.now()
            try:
                async with watch.waiting("dialog", limit=timeout, watched=watched):
                    event = await anext(iterator)
            except StopAsyncIteration:
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever the provider raised, or the timeout
                raise DialogFailed(f"dialog {dialog.name} failed: {exc!r}", cost_s=clock.now() - started) from exc
            timeout = timeouts.dialog_next_token
            if isinstance(event, ToolCall):
                output.tool_calls.append(event)
                continue
            if not isinstance(event, TextDelta) or not event.text:
                continue
            if timing.first_token_at is None:
                timing.first_token_at = clock.now()
            output.text.append(event.text)
            for chunk in chunker.push(event.text):
                _put(chunks, chunk, timing, clock)
        rest = chunker.flush()
        if rest:
            _put(chunks, rest, timing, clock)
    finally:
        chunks.put_nowait(None)
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _put(chunks: asyncio.Queue[str | None], chunk: str, timing: DialogTiming, clock: Clock) -> None:
    if timing.first_chunk_at is None:
        timing.first_chunk_at = clock.now()
    chunks.put_nowait(chunk)
