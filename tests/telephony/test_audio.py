import io
import math
import struct
import wave

import numpy as np
import pytest

from telephony import audio


def tone(seconds: float, *, rate: int = 8000, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    n = int(seconds * rate)
    return struct.pack(f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))


def samples(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


def test_mulaw_round_trip_is_close_and_every_code_decodes():
    pcm = tone(0.1)
    back = audio.ulaw_to_pcm16(audio.pcm16_to_ulaw(pcm))
    assert len(back) == len(pcm)
    errors = [abs(a - b) for a, b in zip(samples(pcm), samples(back), strict=True)]
    assert max(errors) <= 8000 * 0.04  # mu-law keeps ~3% relative error at this level
    # Every mu-law code survives decoding and re-encoding, but for the two zeros (0x7f and 0xff).
    every_code = bytes(code for code in range(256) if code != 0x7F)
    assert audio.pcm16_to_ulaw(audio.ulaw_to_pcm16(every_code)) == every_code


def test_mulaw_silence_is_0xff():
    assert audio.pcm16_to_ulaw(b"\x00\x00" * 4) == b"\xff" * 4
    assert audio.ulaw_to_pcm16(audio.ulaw_silence(0.02)) == b"\x00\x00" * 160


def test_odd_pcm_is_rejected():
    with pytest.raises(audio.AudioFormatError):
        audio.pcm16_to_ulaw(b"\x00\x00\x00")


def test_streaming_resampler_matches_one_shot_length_and_keeps_state():
    pcm = tone(1.0, rate=22050)
    whole = audio.resample(pcm, 22050, 8000)
    assert abs(len(whole) // 2 - 8000) <= 2
    resampler = audio.Resampler(22050, 8000)
    pieces = b"".join(resampler.process(pcm[i : i + 882]) for i in range(0, len(pcm), 882))
    assert pieces == whole


def test_resample_same_rate_is_identity():
    pcm = tone(0.05)
    assert audio.resample(pcm, 8000, 8000) is pcm


def test_split_frames_pads_tail():
    frames = audio.split_frames(b"\x01" * 350, 160, pad=b"\xff")
    assert [len(f) for f in frames] == [160, 160, 160]
    assert frames[-1] == b"\x01" * 30 + b"\xff" * 130
    assert [len(f) for f in audio.split_frames(b"\x01" * 350, 160)] == [160, 160, 30]


def test_frame_buffer_reframes_arbitrary_pieces_in_order():
    buffer = audio.FrameBuffer(160)
    data = bytes(i % 256 for i in range(1000))
    out: list[bytes] = []
    for start in range(0, 1000, 77):
        out.extend(buffer.push(data[start : start + 77]))
    assert all(len(f) == 160 for f in out) and len(out) == 6
    assert len(buffer) == 40
    tail = buffer.flush(pad=b"\xff")
    assert tail is not None and len(tail) == 160
    assert b"".join(out) + tail[:40] == data
    assert buffer.flush() is None


def _wav(pcm: bytes, *, rate: int, channels: int, width: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def _pcm_layout(rate: int, channels: int, width: int, seconds: float = 0.5) -> bytes:
    """A 440 Hz sine at amplitude 8000/32768 of full scale, as interleaved little-endian WAV PCM."""
    t = np.arange(int(seconds * rate)) / rate
    x = 8000 / 32768 * np.sin(2 * np.pi * 440 * t)
    if width == 1:
        samples = (np.round(x * 127) + 128).astype("u1")  # 8-bit WAV is unsigned
        raw = np.repeat(samples, channels).tobytes()
    else:
        ints = np.round(x * (2 ** (8 * width - 1) - 1)).astype("<i4")
        as_bytes = ints.view("u1").reshape(-1, 4)[:, :width]  # the low bytes of each little-endian int32
        raw = np.repeat(as_bytes, channels, axis=0).tobytes()
    return raw


@pytest.mark.parametrize(
    ("rate", "channels", "width"),
    [(8000, 1, 2), (16000, 1, 2), (44100, 2, 2), (22050, 1, 1), (48000, 3, 3), (8000, 2, 4)],
)
def test_decode_any_pcm_wav_to_8k_mono_pcm16(rate, channels, width):
    pcm = audio.decode_wav(_wav(_pcm_layout(rate, channels, width), rate=rate, channels=channels, width=width))
    assert abs(len(pcm) // 2 - 4000) <= 3
    assert 5300 < audio.rms(pcm) < 6000  # a sine of amplitude 8000 has RMS 5657, whatever the layout


def test_stereo_is_mixed_down_not_left_only():
    left = _pcm_layout(8000, 1, 2)
    stereo = b"".join(left[i : i + 2] + b"\x00\x00" for i in range(0, len(left), 2))
    pcm = audio.decode_wav(_wav(stereo, rate=8000, channels=2, width=2))
    assert 2650 < audio.rms(pcm) < 3000  # half the level


def test_wav_write_read_round_trip(tmp_path):
    pcm = tone(0.3)
    path = tmp_path / "x.wav"
    audio.write_wav(path, pcm)
    assert audio.read_wav(path) == pcm


@pytest.mark.parametrize("data", [b"", b"RIFF", b"not a wav file at all" * 10])
def test_unreadable_wav_raises_audio_format_error(data):
    with pytest.raises(audio.AudioFormatError):
        audio.decode_wav(data)
