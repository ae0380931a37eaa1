"""The server side of ``seiketsu bench calls``: the real app, with speech providers of fixed latency.

Run by the benchmark as ``uvicorn telephony.bench_server:create_bench_app --factory``; ``BENCH_STT_MS``,
``BENCH_DIALOG_MS`` and ``BENCH_TTS_MS`` set the providers' latencies, and ``BENCH_LOCAL=1`` keeps the real
local providers instead (to measure how many calls they sustain). ``BENCH_STALL`` (``stt``, ``dialog`` or
``tts``) makes that provider stall on every ``BENCH_STALL_EVERY``-th turn of the process, from its start or,
with ``BENCH_STALL_AT=midway``, after its first words or audio; each call then has distinct local fallbacks.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI

from agent.fakes import FakeDialog, FakeRecognitionStream, FakeSpeechToText, FakeTextToSpeech
from agent.interfaces import DialogContext, DialogEvent, ToolSpec
from agent.providers.factory import ProviderSelection, SpeechPreferences
from seiketsu.app import create_app
from telephony.runtime import telephony_runtime

CALLER_LINE = "I want to sell my condo in Austin next spring"
AGENT_REPLY = (
    "Great, a condo in Austin. We sell a lot of those. When would you like to list it, "
    "and have you already picked a price in mind?"
)


MIDWAY_EVENTS = 6
"""A dialog stalled midway stops after this many words: its first sentence is out ("Great, a condo in Austin.")."""


@dataclass(slots=True)
class Stalls:
    """Which turns of one provider stall: every ``every``-th of the process (0: none), deterministic."""

    every: int
    midway: bool = False
    _turns: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_turn(self) -> bool:
        return bool(self.every) and next(self._turns) % self.every == 0


async def _forever() -> None:
    await asyncio.Event().wait()


@dataclass(slots=True)
class StallingDialog:
    inner: FakeDialog
    stalls: Stalls
    name: str = "bench-dialog"

    async def respond(self, context: DialogContext, tools: Sequence[ToolSpec]) -> AsyncIterator[DialogEvent]:
        stall = self.stalls.next_turn()
        sent = 0
        async for event in self.inner.respond(context, tools):
            if stall and sent == (MIDWAY_EVENTS if self.stalls.midway else 0):
                await _forever()
            yield event
            sent += 1


@dataclass(slots=True)
class StallingVoice:
    inner: FakeTextToSpeech
    stalls: Stalls
    name: str = "bench-voice"
    voice: str = "tone"

    async def warm_up(self) -> None:
        return None

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        stall = self.stalls.next_turn()
        sent = 0
        async for audio in self.inner.synthesize(text):
            if stall and sent == (1 if self.stalls.midway else 0):
                await _forever()
            yield audio
            sent += 1


class _StalledStream(FakeRecognitionStream):
    async def finish(self) -> str:
        await _forever()
        return ""


@dataclass(slots=True)
class StallingRecognizer:
    inner: FakeSpeechToText
    stalls: Stalls
    name: str = "bench-stt"

    async def warm_up(self) -> None:
        return None

    def start(self, *, language: str) -> FakeRecognitionStream:
        if self.stalls.next_turn():
            return _StalledStream("", 0.0)
        return self.inner.start(language=language)


@dataclass(frozen=True, slots=True)
class FixedLatencySpeech:
    """Hands each call fresh fakes (nothing accumulates across calls) with fixed latencies; ``stall`` names the
    provider that stalls as ``stalls`` says."""

    stt_s: float
    dialog_s: float
    tts_s: float
    stall: str = ""
    stalls: Stalls = field(default_factory=lambda: Stalls(0))

    def select(self, preferences: SpeechPreferences | None = None) -> ProviderSelection:
        stt = FakeSpeechToText(default=CALLER_LINE, latency_s=self.stt_s)
        tts = FakeTextToSpeech(first_byte_latency_s=self.tts_s, ms_per_char=30, chunk_ms=200)
        dialog = FakeDialog(default=AGENT_REPLY, first_token_latency_s=self.dialog_s)
        if not self.stall:
            return ProviderSelection(stt=stt, tts=tts, dialog=dialog, language="en-US", fallback_stt=stt,
                                     fallback_tts=tts)  # fmt: skip
        return ProviderSelection(
            stt=StallingRecognizer(stt, self.stalls) if self.stall == "stt" else stt,
            tts=StallingVoice(tts, self.stalls) if self.stall == "tts" else tts,
            dialog=StallingDialog(dialog, self.stalls) if self.stall == "dialog" else dialog,
            language="en-US",
            fallback_stt=FakeSpeechToText(default=CALLER_LINE, name="local-stt"),
            fallback_tts=FakeTextToSpeech(name="local-voice", ms_per_char=30, chunk_ms=200),
        )

    async def warm_up(self, organizations: Iterable[SpeechPreferences] = ()) -> None:
        return None

    async def aclose(self) -> None:
        return None


def create_bench_app() -> FastAPI:
    app = create_app()
    if os.environ.get("BENCH_LOCAL") != "1":
        runtime = telephony_runtime(app)
        runtime.speech = FixedLatencySpeech(
            stt_s=float(os.environ.get("BENCH_STT_MS", "150")) / 1000,
            dialog_s=float(os.environ.get("BENCH_DIALOG_MS", "200")) / 1000,
            tts_s=float(os.environ.get("BENCH_TTS_MS", "100")) / 1000,
            stall=os.environ.get("BENCH_STALL", ""),
            stalls=Stalls(
                int(os.environ.get("BENCH_STALL_EVERY", "0")), midway=os.environ.get("BENCH_STALL_AT") == "midway"
            ),
        )
    return app
