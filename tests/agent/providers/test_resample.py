from __future__ import annotations

import numpy as np
import pytest

from agent.audio import audioop
from agent.providers.resample import TelephoneEncoder, lowpass_kernel

SOURCE_RATE = 22050


def tone(frequency_hz: float, *, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(SOURCE_RATE * seconds)) / SOURCE_RATE
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def decode(ulaw: bytes) -> np.ndarray:
    return np.frombuffer(audioop.ulaw2lin(ulaw, 2), dtype="<i2").astype(np.float64)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def test_one_second_becomes_8000_mu_law_samples_at_the_same_pitch():
    encoder = TelephoneEncoder(SOURCE_RATE)
    pcm = decode(encoder.encode(tone(1000.0)) + encoder.flush())

    flushed_tail = 63  # half the 127-tap filter, in source samples
    assert len(pcm) == pytest.approx((SOURCE_RATE + flushed_tail) * 8000 / SOURCE_RATE, abs=2)
    spectrum = np.abs(np.fft.rfft(pcm[500:8000]))
    peak_hz = np.argmax(spectrum) * 8000 / len(pcm[500:8000])
    assert peak_hz == pytest.approx(1000.0, abs=5.0)
    assert rms(pcm[500:7500]) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.05)


def test_content_above_the_telephone_band_does_not_alias_into_it():
    # Without the low-pass, a 5 kHz tone resampled to 8 kHz folds down to an audible 3 kHz.
    in_band = decode(TelephoneEncoder(SOURCE_RATE).encode(tone(1000.0)))[500:7500]
    above = decode(TelephoneEncoder(SOURCE_RATE).encode(tone(5000.0)))[500:7500]

    assert rms(above) < 0.01 * rms(in_band)


def test_chunked_encoding_is_identical_to_encoding_at_once():
    signal = np.concatenate([tone(440.0, seconds=0.4), tone(2000.0, seconds=0.3)])
    whole = TelephoneEncoder(SOURCE_RATE)
    chunked = TelephoneEncoder(SOURCE_RATE)

    at_once = whole.encode(signal) + whole.flush()
    pieces = b"".join(chunked.encode(signal[i : i + 1234]) for i in range(0, len(signal), 1234))

    assert pieces + chunked.flush() == at_once


def test_kernel_has_unity_gain_and_rejects_even_lengths():
    assert lowpass_kernel(cutoff_hz=3400, sample_rate=SOURCE_RATE).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        lowpass_kernel(cutoff_hz=3400, sample_rate=SOURCE_RATE, taps=64)
    with pytest.raises(ValueError):
        TelephoneEncoder(4000)
