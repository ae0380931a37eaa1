"""OpenAI chat completions and ElevenLabs text-to-speech faked at the HTTP level, misbehaving on the call's clock.

Each double is an HTTP transport handed to the real provider class (``httpx2`` for the OpenAI SDK, ``httpx`` for the
ElevenLabs SDK), answering with the documented shapes: chat completions stream ``data: {chat.completion.chunk}``
events then ``data: [DONE]``, errors ``{"error": {...}}``; ElevenLabs streams raw ``ulaw_8000`` bytes, errors
``{"detail": {"status", "message"}}``. A :class:`Misbehaviour` decides how the next answers go wrong; delays are
read on the call's media clock (:class:`MediaClock`), so a "slow" provider is slow in the caller's time.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import httpx2

from agent.clock import ManualClock
from tests.agent.providers.openai_double import text_reply

Misbehaviour = Literal["none", "error", "hang", "stall", "trickle"]
"""``error``: a 500; ``hang``: headers, then nothing before the first token or byte; ``stall``: the first parts,
then nothing; ``trickle``: every part, each ``trickle_s`` of the call's time after the previous one."""


class MediaClock:
    """The call's clock as the doubles see it: they wait for it to reach a moment."""

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self._moved = asyncio.Event()

    def now(self) -> float:
        return self._clock.now()

    def moved(self) -> None:
        """The call's clock advanced (the harness calls this after every frame)."""
        self._moved.set()
        self._moved = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        until = self._clock.now() + seconds
        while self._clock.now() < until:
            await self._moved.wait()


@dataclass
class _Double:
    media: MediaClock
    misbehave: Misbehaviour = "none"
    latency_s: float = 0.0
    """Before the first part of every answer (a healthy provider's own latency)."""
    stall_at: int = 1
    """The part a stalled answer stops before."""
    trickle_s: float = 1.3
    released: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by the test: a hung or stalled answer goes on (too late, the agent must not use it)."""
    sent_after_release: int = 0
    """Parts of an answer the client read after :attr:`released` was set."""

    async def _pace(self, index: int, mode: Misbehaviour) -> None:
        """Before part ``index`` of an answer."""
        if index == 0 and self.latency_s:
            await self.media.sleep(self.latency_s)
        if (mode == "hang" and index == 0) or (mode == "stall" and index == self.stall_at):
            await self.released.wait()
        elif mode == "trickle" and index > 0:
            await self.media.sleep(self.trickle_s)

    def _count(self) -> None:
        if self.released.is_set():
            self.sent_after_release += 1


@dataclass
class ChatCompletionsDouble(_Double):
    """``POST /v1/chat/completions`` with ``stream: true``; the reply's pieces are streamed one per event."""

    pieces: tuple[str, ...] = ("Got it.", " So you want to sell", " a condo in Austin.", " When would you list it?")
    stall_at: int = 2
    """After "Got it." (whose end the agent sees only when the next piece comes)."""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self._handle))

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/chat/completions" and request.headers["authorization"] == "Bearer sk-test"
        body = json.loads(await request.aread())
        assert body["stream"] is True
        self.requests.append(body)
        mode = self.misbehave
        if mode == "error":
            error = {"message": "The server had an error while processing your request.", "type": "server_error"}
            return httpx2.Response(500, json={"error": {**error, "param": None, "code": None}})
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=self._events(mode))

    async def _events(self, mode: Misbehaviour) -> AsyncIterator[bytes]:
        events = text_reply(*self.pieces)  # role, pieces..., finish
        for index, event in enumerate(events[1:]):
            await self._pace(index, mode)
            self._count()
            if index == 0:
                yield f"data: {json.dumps(events[0])}\n\n".encode()
            yield f"data: {json.dumps(event)}\n\n".encode()
        yield b"data: [DONE]\n\n"


@dataclass
class ElevenLabsDouble(_Double):
    """``POST /v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000``: mu-law in 100 ms pieces, as much
    audio as the text takes to say at ``ms_per_char``, faster than real time unless told to trickle."""

    ms_per_char: int = 60
    stall_at: int = 3
    texts: list[str] = field(default_factory=list)

    AUDIO_BYTE = b"\x2a"
    """Every byte of its audio (a quiet mu-law level), to tell it from the local voice on the line."""

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        assert re.fullmatch(r"/v1/text-to-speech/[^/]+/stream", request.url.path)
        assert request.url.params["output_format"] == "ulaw_8000" and request.headers["xi-api-key"] == "el-test"
        text = json.loads(await request.aread())["text"]
        self.texts.append(text)
        mode = self.misbehave
        if mode == "error":
            detail = {"status": "internal_server_error", "message": "An internal error occurred."}
            return httpx.Response(500, json={"detail": detail})
        return httpx.Response(200, headers={"content-type": "audio/basic"}, content=self._audio(text, mode))

    async def _audio(self, text: str, mode: Misbehaviour) -> AsyncIterator[bytes]:
        remaining = len(text) * self.ms_per_char * 8
        index = 0
        while remaining > 0:
            await self._pace(index, mode)
            self._count()
            piece = min(800, remaining)
            remaining -= piece
            index += 1
            yield self.AUDIO_BYTE * piece
