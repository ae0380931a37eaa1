"""Small audio helpers for the agent's two fixed formats (PCM16 8 kHz in, mu-law 8 kHz out).

``audioop`` is deprecated in Python 3.11-3.12 and gone in 3.13, where the ``audioop-lts`` package provides the
same module; the import is guarded so the deprecation warning does not turn into an error under
``filterwarnings = error``.
"""

from __future__ import annotations

import math
import warnings

from agent.interfaces import SAMPLE_RATE

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

__all__ = [
    "PCM_BYTES_PER_MS",
    "ULAW_BYTES_PER_MS",
    "audioop",
    "pcm_duration_ms",
    "tone_ulaw",
    "ulaw_duration_ms",
    "ulaw_silence",
]

PCM_BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
"""16-bit mono PCM at 8 kHz: 16 bytes per millisecond."""

ULAW_BYTES_PER_MS = SAMPLE_RATE // 1000
"""mu-law at 8 kHz: one byte per sample, 8 bytes per millisecond."""

_ULAW_SILENCE_BYTE = b"\xff"


def pcm_duration_ms(nbytes: int) -> float:
    return nbytes / PCM_BYTES_PER_MS


def ulaw_duration_ms(nbytes: int) -> float:
    return nbytes / ULAW_BYTES_PER_MS


def ulaw_silence(ms: int) -> bytes:
    """Digital silence in mu-law (0xFF encodes zero)."""
    return _ULAW_SILENCE_BYTE * (ms * ULAW_BYTES_PER_MS)


def tone_ulaw(*, ms: int, frequency_hz: float = 440.0, amplitude: int = 8000) -> bytes:
    """A sine tone as mu-law 8 kHz; deterministic, used by fakes and tests."""
    samples = ms * ULAW_BYTES_PER_MS
    step = 2 * math.pi * frequency_hz / SAMPLE_RATE
    pcm = b"".join(int(amplitude * math.sin(step * i)).to_bytes(2, "little", signed=True) for i in range(samples))
    return audioop.lin2ulaw(pcm, 2)
