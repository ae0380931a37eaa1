"""Caller speech for the agent's tests: real synthetic speech from espeak-ng, as 8 kHz PCM16 mono."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.agent.audio_samples import SpeechFactory, wav_to_pcm8k


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> SpeechFactory:
    """``speech("some words")`` -> the words spoken by espeak-ng, PCM16 8 kHz mono (cached per text)."""
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is required for the agent's audio tests (apt-get install espeak-ng)"
    folder = tmp_path_factory.mktemp("speech")
    cache: dict[str, bytes] = {}

    def speak(text: str) -> bytes:
        if text not in cache:
            out = folder / f"utterance-{len(cache)}.wav"
            subprocess.run([espeak, "-v", "en-us", "-s", "160", "-w", str(out), text], check=True, timeout=30)
            cache[text] = wav_to_pcm8k(out)
        return cache[text]

    return speak
