"""The server side of ``seiketsu bench calls``: the real app, with speech providers of fixed latency.

Run by the benchmark as ``uvicorn telephony.bench_server:create_bench_app --factory``; ``BENCH_STT_MS``,
``BENCH_DIALOG_MS`` and ``BENCH_TTS_MS`` set the providers' latencies, and ``BENCH_LOCAL=1`` keeps the real
local providers instead (to measure how many calls they sustain).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import FastAPI

from agent.fakes import FakeDialog, FakeSpeechToText, FakeTextToSpeech
from agent.providers.factory import ProviderSelection, SpeechPreferences
from seiketsu.app import create_app
from telephony.runtime import telephony_runtime

CALLER_LINE = "I want to sell my condo in Austin next spring"
AGENT_REPLY = (
    "Great, a condo in Austin. We sell a lot of those. When would you like to list it, "
    "and have you already picked a price in mind?"
)


@dataclass(frozen=True, slots=True)
class FixedLatencySpeech:
    """Hands each call fresh fakes (nothing accumulates across calls) with fixed latencies."""

    stt_s: float
    dialog_s: float
    tts_s: float

    def select(self, preferences: SpeechPreferences | None = None) -> ProviderSelection:
        stt = FakeSpeechToText(default=CALLER_LINE, latency_s=self.stt_s)
        tts = FakeTextToSpeech(first_byte_latency_s=self.tts_s, ms_per_char=30, chunk_ms=200)
        dialog = FakeDialog(default=AGENT_REPLY, first_token_latency_s=self.dialog_s)
        return ProviderSelection(stt=stt, tts=tts, dialog=dialog, language="en-US", fallback_stt=stt, fallback_tts=tts)

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
        )
    return app
