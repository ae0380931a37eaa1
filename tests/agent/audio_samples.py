"""Audio building blocks for the agent's tests (PCM16 8 kHz mono)."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from agent.audio import audioop

SpeechFactory = Callable[[str], bytes]


def silence(ms: int) -> bytes:
    return b"\x00\x00" * (8 * ms)


def noise(ms: int, *, amplitude: float, seed: int = 7, smooth: int = 1) -> bytes:
    """Gaussian noise as PCM16 8 kHz; ``smooth`` > 1 low-passes it (fan or road rumble rather than hiss)."""
    rng = np.random.default_rng(seed)
    samples = rng.normal(0, amplitude, 8 * ms)
    if smooth > 1:
        samples = np.convolve(samples, np.ones(smooth) / smooth, mode="same")
    return bytes(samples.clip(-32768, 32767).astype("<i2").tobytes())


def mix(a: bytes, b: bytes) -> bytes:
    """Sample-wise sum of two PCM16 signals (the shorter one padded with silence)."""
    x = np.frombuffer(a, "<i2").astype(np.int32)
    y = np.frombuffer(b, "<i2").astype(np.int32)
    n = max(len(x), len(y))
    out = np.zeros(n, np.int32)
    out[: len(x)] += x
    out[: len(y)] += y
    return bytes(out.clip(-32768, 32767).astype("<i2").tobytes())


def wav_to_pcm8k(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    converted, _ = audioop.ratecv(frames, 2, 1, rate, 8000, None)
    return bytes(converted)


def trim(pcm: bytes, *, threshold: int = 300) -> bytes:
    """The clip without its leading and trailing quiet (espeak pads its output)."""
    samples = np.frombuffer(pcm, "<i2")
    loud = np.nonzero(np.abs(samples) > threshold)[0]
    return bytes(samples[loud[0] : loud[-1] + 1].tobytes())


def cough_like(ms: int, *, seed: int = 1) -> bytes:
    """A loud burst with a fast attack and decay, like a cough or a knock."""
    burst = np.frombuffer(noise(ms, amplitude=9000, seed=seed, smooth=2), "<i2").astype(float)
    envelope = np.exp(-np.linspace(0, 4, len(burst)))
    return bytes((burst * envelope).astype("<i2").tobytes())
