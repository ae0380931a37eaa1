"""Models are loaded once per test session: the Piper voice and the local Whisper recognizer.

``HF_HUB_OFFLINE`` proves the recognizer loads only what is installed: a fetch from a model hub would fail.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from agent.providers.piper_tts import PiperSentenceVoice, PiperTTS
from agent.providers.whisper_model import default_model_dir
from agent.providers.whisper_stt import WhisperSTT

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def piper_voice() -> PiperSentenceVoice:
    return PiperSentenceVoice.load(deterministic=True)


@pytest.fixture(scope="session")
def piper_tts(piper_voice: PiperSentenceVoice) -> Iterator[PiperTTS]:
    tts = PiperTTS(voice=piper_voice)
    yield tts
    asyncio.run(tts.aclose())


@pytest.fixture(scope="session")
def whisper_stt() -> Iterator[WhisperSTT]:
    """One decode at a time: a second concurrent utterance waits for the only worker."""
    stt = WhisperSTT(model_dir=default_model_dir(), workers=1)
    asyncio.run(stt.warm_up())
    yield stt
    asyncio.run(stt.aclose())
