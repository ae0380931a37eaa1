"""Models are loaded once per test session: the Piper voice and one pocketsphinx decoder process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from agent.providers.piper_tts import PiperSentenceVoice, PiperTTS
from agent.providers.pocketsphinx_stt import PocketsphinxSTT


@pytest.fixture(scope="session")
def piper_voice() -> PiperSentenceVoice:
    return PiperSentenceVoice.load(deterministic=True)


@pytest.fixture(scope="session")
def piper_tts(piper_voice: PiperSentenceVoice) -> Iterator[PiperTTS]:
    tts = PiperTTS(voice=piper_voice)
    yield tts
    asyncio.run(tts.aclose())


@pytest.fixture(scope="session")
def sphinx_stt() -> Iterator[PocketsphinxSTT]:
    """One warm decoder, and no more: a second concurrent utterance waits for it."""
    stt = PocketsphinxSTT(warm_decoders=1, max_decoders=1)
    asyncio.run(stt.warm_up())
    yield stt
    asyncio.run(stt.aclose())
