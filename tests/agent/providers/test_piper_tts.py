from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from agent.audio import audioop
from agent.interfaces import ProviderError
from agent.providers.piper_tts import JOE_VOICE, PiperSentenceVoice, PiperTTS


class CountingVoice:
    """The real voice, counting the sentences it has synthesized so far."""

    def __init__(self, voice: PiperSentenceVoice) -> None:
        self._voice = voice
        self.synthesized = 0

    @property
    def sample_rate(self) -> int:
        return self._voice.sample_rate

    def sentences(self, text: str) -> Iterator[npt.NDArray[np.float32]]:
        for samples in self._voice.sentences(text):
            self.synthesized += 1
            yield samples


class BrokenVoice:
    sample_rate = 22050

    def sentences(self, text: str) -> Iterator[npt.NDArray[np.float32]]:
        raise RuntimeError("onnxruntime: session failed")
        yield np.zeros(1, dtype=np.float32)


async def test_speech_is_mu_law_at_8_khz_in_bounded_chunks(piper_tts: PiperTTS):
    chunks = [chunk async for chunk in piper_tts.synthesize("Thanks for calling Sunrise Realty.")]

    audio = b"".join(chunks)
    seconds = len(audio) / 8000  # one mu-law byte per 8 kHz sample
    assert 1.0 < seconds < 4.0
    assert all(0 < len(chunk) <= 1600 for chunk in chunks)  # 200 ms chunks
    pcm = np.frombuffer(audioop.ulaw2lin(audio, 2), dtype="<i2").astype(np.float64)
    assert np.sqrt(np.mean(pcm**2)) > 500  # speech, not silence or noise floor
    assert piper_tts.name == "piper" and piper_tts.voice == JOE_VOICE


async def test_first_sentence_is_yielded_before_the_next_is_synthesized(piper_voice: PiperSentenceVoice):
    voice = CountingVoice(piper_voice)
    tts = PiperTTS(voice=voice)
    text = "Hello there. I can help you buy a home. What area are you looking in? And when would you move?"

    chunks = aiter(tts.synthesize(text))
    first = await anext(chunks)
    assert first and voice.synthesized == 1

    rest = [chunk async for chunk in chunks]
    assert voice.synthesized == 4 and rest
    await tts.aclose()


async def test_blank_text_yields_nothing(piper_tts: PiperTTS):
    assert [chunk async for chunk in piper_tts.synthesize("  \n")] == []


async def test_engine_failure_is_a_provider_error():
    tts = PiperTTS(voice=BrokenVoice())
    with pytest.raises(ProviderError, match="Piper synthesis failed"):
        [chunk async for chunk in tts.synthesize("Hello.")]
    await tts.aclose()


async def test_synthesis_does_not_stall_the_event_loop(piper_tts: PiperTTS):
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    loop = asyncio.get_running_loop()
    started = loop.time()
    audio = [chunk async for chunk in piper_tts.synthesize("We have three condos for sale near the lake this week.")]
    elapsed = loop.time() - started
    ticker.cancel()

    assert audio
    assert ticks >= 0.3 * elapsed / 0.01  # the loop kept turning while the model ran


async def test_a_deterministic_voice_says_a_text_the_same_way_every_time(piper_tts: PiperTTS) -> None:
    """Simulated callers use it, so that what the recognizer hears does not vary from run to run."""

    async def say(text: str) -> bytes:
        return b"".join([chunk async for chunk in piper_tts.synthesize(text)])

    first, second = await say("I want to sell my condo next spring."), await say("I want to sell my condo next spring.")
    assert len(first) > 8000 and first == second
