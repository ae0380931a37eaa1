"""Turning a synthetic voice's audio into telephone audio: band-limit, resample to 8 kHz, encode mu-law.

Pure and stateful per utterance: a :class:`TelephoneEncoder` carries its filter history and resampler state
across chunks, so audio converted sentence by sentence joins without clicks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from agent.audio import audioop
from agent.interfaces import SAMPLE_RATE

TELEPHONE_CUTOFF_HZ = 3700.0
"""Pass band edge: as much of the 4 kHz the 8 kHz rate allows (sibilants live up there) while the filter's
stop band still starts near 4 kHz, where content would alias once resampled."""

RateCVState = tuple[int, tuple[tuple[int, int], ...]] | None
"""``audioop.ratecv``'s state between chunks."""

_FILTER_TAPS = 127
_PCM16_MAX = 32767.0


def lowpass_kernel(*, cutoff_hz: float, sample_rate: int, taps: int = _FILTER_TAPS) -> npt.NDArray[np.float64]:
    """A linear-phase FIR low-pass (Blackman-windowed sinc) with unity gain at DC."""
    if taps % 2 == 0:
        raise ValueError("taps must be odd for a symmetric, linear-phase filter")
    n = np.arange(taps) - (taps - 1) / 2
    kernel = np.sinc(2 * cutoff_hz / sample_rate * n) * np.blackman(taps)
    normalized: npt.NDArray[np.float64] = kernel / kernel.sum()
    return normalized


class TelephoneEncoder:
    """Converts float audio in [-1, 1] at ``source_rate`` to mu-law 8 kHz, chunk by chunk."""

    def __init__(self, source_rate: int, *, cutoff_hz: float = TELEPHONE_CUTOFF_HZ) -> None:
        if source_rate < SAMPLE_RATE:
            raise ValueError(f"source rate {source_rate} Hz is below the telephone rate")
        self._source_rate = source_rate
        self._kernel = lowpass_kernel(cutoff_hz=cutoff_hz, sample_rate=source_rate)
        self._history = np.zeros(len(self._kernel) - 1)
        self._ratecv_state: RateCVState = None

    def encode(self, samples: npt.NDArray[np.floating]) -> bytes:
        """Encode the next chunk; returns mu-law bytes (one byte per 8 kHz sample)."""
        if samples.size == 0:
            return b""
        padded = np.concatenate([self._history, samples.astype(np.float64) * _PCM16_MAX])
        filtered = np.convolve(padded, self._kernel, mode="valid")
        self._history = padded[len(padded) - len(self._history) :]
        pcm = np.clip(np.rint(filtered), -32768, 32767).astype("<i2").tobytes()
        resampled, self._ratecv_state = audioop.ratecv(
            pcm, 2, 1, self._source_rate, SAMPLE_RATE, self._ratecv_state
        )
        return audioop.lin2ulaw(resampled, 2)

    def flush(self) -> bytes:
        """Emit the filter's delayed tail (half the filter length) at the end of an utterance."""
        return self.encode(np.zeros((len(self._kernel) - 1) // 2))
