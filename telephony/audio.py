"""Telephone audio helpers: G.711 mu-law <-> PCM16, resampling, 20 ms framing and WAV files. Pure but for
the two WAV file helpers.

The telephone format is mu-law, 8 kHz, mono (one byte per sample); the agent's working format is 16-bit signed
little-endian PCM at 8 kHz mono (two bytes per sample).
"""

from __future__ import annotations

import io
import warnings
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

with warnings.catch_warnings():
    # audioop is deprecated in 3.11-3.12 and provided by the audioop-lts package from 3.13.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

SAMPLE_RATE = 8000
FRAME_MS = 20
ULAW_BYTES_PER_SECOND = SAMPLE_RATE
ULAW_FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000
PCM16_FRAME_BYTES = 2 * ULAW_FRAME_BYTES
ULAW_SILENCE = b"\xff"
"""Mu-law encoding of digital silence (0)."""


class AudioFormatError(ValueError):
    """Audio that cannot be read or converted (not a WAV file, unsupported encoding, odd byte count)."""


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    return audioop.ulaw2lin(ulaw, 2)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    if len(pcm) % 2:
        raise AudioFormatError("PCM16 audio must have an even number of bytes")
    return audioop.lin2ulaw(pcm, 2)


def rms(pcm: bytes) -> int:
    """Root-mean-square level of PCM16 audio (0 for silence, up to 32767)."""
    return audioop.rms(pcm, 2)


def ulaw_silence(seconds: float) -> bytes:
    return ULAW_SILENCE * round(seconds * ULAW_BYTES_PER_SECOND)


class Resampler:
    """Streaming PCM16 mono resampler: feed consecutive chunks of one stream, state carries across them."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._state: tuple[int, tuple[tuple[int, int], ...]] | None = None

    def process(self, pcm: bytes) -> bytes:
        if self.from_rate == self.to_rate:
            return pcm
        if len(pcm) % 2:
            raise AudioFormatError("PCM16 audio must have an even number of bytes")
        out, self._state = audioop.ratecv(pcm, 2, 1, self.from_rate, self.to_rate, self._state)
        return out


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample one whole PCM16 mono buffer."""
    return Resampler(from_rate, to_rate).process(pcm)


def split_frames(data: bytes, frame_bytes: int = ULAW_FRAME_BYTES, *, pad: bytes | None = None) -> list[bytes]:
    """Cut ``data`` into frames of ``frame_bytes``; the short tail is padded with ``pad`` or kept short."""
    if frame_bytes <= 0:
        raise ValueError("frame_bytes must be positive")
    frames = [data[i : i + frame_bytes] for i in range(0, len(data), frame_bytes)]
    if pad is not None and frames and len(frames[-1]) < frame_bytes:
        frames[-1] = frames[-1] + pad * ((frame_bytes - len(frames[-1])) // len(pad))
    return frames


class FrameBuffer:
    """Re-frames a byte stream arriving in arbitrary pieces into fixed-size frames, in order."""

    def __init__(self, frame_bytes: int = ULAW_FRAME_BYTES) -> None:
        if frame_bytes <= 0:
            raise ValueError("frame_bytes must be positive")
        self.frame_bytes = frame_bytes
        self._pending = bytearray()

    def __len__(self) -> int:
        """Bytes held back, waiting to fill a frame."""
        return len(self._pending)

    def push(self, data: bytes) -> Iterator[bytes]:
        """Add ``data`` and yield every frame now complete."""
        self._pending += data
        size = self.frame_bytes
        whole = len(self._pending) - len(self._pending) % size
        for start in range(0, whole, size):
            yield bytes(self._pending[start : start + size])
        del self._pending[:whole]

    def flush(self, pad: bytes | None = None) -> bytes | None:
        """Return the held-back tail (padded to a whole frame with ``pad`` if given), or None if empty."""
        if not self._pending:
            return None
        tail = bytes(self._pending)
        self._pending.clear()
        if pad is not None:
            tail += pad * ((self.frame_bytes - len(tail)) // len(pad))
        return tail


# --- WAV


def decode_wav(source: bytes | BinaryIO) -> bytes:
    """Read a PCM WAV (any rate, 8/16/24/32-bit, any channel count) as PCM16 mono at 8 kHz."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with wave.open(stream, "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            # Streamed WAVs (espeak-ng --stdout) carry a placeholder frame count: read what is there.
            data = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"not a readable PCM WAV: {exc}") from exc
    data = data[: len(data) - len(data) % (width * channels)]
    return to_pcm16_mono(data, sample_width=width, channels=channels, sample_rate=rate)


def to_pcm16_mono(data: bytes, *, sample_width: int, channels: int, sample_rate: int) -> bytes:
    """Convert interleaved linear PCM to PCM16 mono at 8 kHz (8-bit input is unsigned, as in WAV)."""
    if sample_width not in (1, 2, 3, 4) or channels < 1:
        raise AudioFormatError(f"unsupported PCM layout: {sample_width} bytes x {channels} channels")
    if sample_width == 1:
        data = audioop.bias(data, 1, -128)
    if sample_width != 2:
        data = audioop.lin2lin(data, sample_width, 2)
    if channels > 1:
        data = _downmix(data, channels)
    return resample(data, sample_rate, SAMPLE_RATE)


def _downmix(pcm: bytes, channels: int) -> bytes:
    if channels == 2:
        return audioop.tomono(pcm, 2, 0.5, 0.5)
    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
    mixed: bytes = samples.mean(axis=1).round().astype("<i2").tobytes()
    return mixed


def read_wav(path: str | Path) -> bytes:
    """Read any PCM WAV file as PCM16 mono at 8 kHz."""
    with open(path, "rb") as fh:
        return decode_wav(fh)


def encode_wav(pcm: bytes, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """PCM16 mono as WAV file bytes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return out.getvalue()


def write_wav(path: str | Path, pcm: bytes, *, sample_rate: int = SAMPLE_RATE) -> None:
    """Write PCM16 mono to a WAV file."""
    Path(path).write_bytes(encode_wav(pcm, sample_rate=sample_rate))
