import pytest

from telephony.simulator.playback import PlaybackBuffer, Played
from telephony.simulator.results import TimingCollector

SILENCE = b"\xff"


def test_idle_line_plays_silence_at_line_rate():
    buffer = PlaybackBuffer(start=10.0)
    assert buffer.advance(10.5) == Played(SILENCE * 4000, ())
    assert buffer.advance(10.5) == Played(b"", ())
    assert not buffer.is_playing and buffer.idle_since == 10.0


def test_audio_drains_at_8000_bytes_per_second_and_mark_follows_it():
    buffer = PlaybackBuffer(start=0.0)
    audio = bytes(range(200)) * 40  # 8000 bytes: one second
    assert buffer.push_audio(audio, 0.0) == Played(b"", ())
    assert buffer.push_mark("m1", 0.1).marks == ()
    assert buffer.is_playing and buffer.queued_bytes == 8000 - 800
    played = buffer.advance(0.999)
    assert played.marks == () and buffer.queued_bytes == 8
    played = buffer.advance(1.0)
    assert played.marks == ("m1",) and buffer.queued_bytes == 0
    assert buffer.idle_since == 1.0


def test_whole_timeline_is_contiguous_audio_then_silence():
    buffer = PlaybackBuffer(start=0.0)
    out = buffer.advance(0.25).audio
    out += buffer.push_audio(b"\x01" * 1000, 0.25).audio
    out += buffer.push_audio(b"\x02" * 1000, 0.3).audio
    for step in range(1, 41):
        out += buffer.advance(0.3 + step * 0.01).audio
    assert len(out) == int(0.7 * 8000)
    assert out == SILENCE * 2000 + b"\x01" * 1000 + b"\x02" * 1000 + SILENCE * (5600 - 4000)
    assert buffer.idle_since == 0.5


def test_mark_with_nothing_buffered_is_due_at_once():
    buffer = PlaybackBuffer(start=0.0)
    assert buffer.push_mark("now", 0.5).marks == ("now",)
    buffer.push_audio(b"\x01" * 80, 0.5)
    assert buffer.push_mark("later", 0.5).marks == ()
    assert buffer.advance(0.51).marks == ("later",)


def test_marks_keep_their_order_between_chunks():
    buffer = PlaybackBuffer(start=0.0)
    for i in range(3):
        buffer.push_audio(b"\x01" * 800, 0.0)
        buffer.push_mark(f"m{i}", 0.0)
    assert buffer.advance(0.15).marks == ("m0",)
    assert buffer.advance(0.31).marks == ("m1", "m2")


def test_clear_drops_audio_and_echoes_every_pending_mark():
    buffer = PlaybackBuffer(start=0.0)
    buffer.push_audio(b"\x01" * 8000, 0.0)
    buffer.push_mark("a", 0.0)
    buffer.push_audio(b"\x02" * 8000, 0.0)
    buffer.push_mark("b", 0.0)
    played = buffer.clear(0.5)
    assert played.audio == b"\x01" * 4000
    assert played.marks == ("a", "b")
    assert not buffer.is_playing and buffer.idle_since == 0.5
    assert buffer.advance(0.6).audio == SILENCE * 800
    assert buffer.clear(0.7).marks == ()


def test_mark_flood_is_echoed_once_each():
    buffer = PlaybackBuffer(start=0.0)
    buffer.push_audio(b"\x01" * 160, 0.0)
    for i in range(10_000):
        buffer.push_mark(str(i), 0.0)
    marks = buffer.advance(0.02).marks
    assert marks == tuple(str(i) for i in range(10_000))
    assert buffer.advance(1.0).marks == ()


def test_timing_collector():
    timing = TimingCollector(100.0)
    timing.agent_audio(100.05)
    assert timing.greeting_latency == pytest.approx(0.05)
    timing.speech_onset(101.0, text="one", over_agent_audio=False)
    timing.speech_end(102.0, text="one")
    timing.agent_audio(102.4)
    timing.agent_audio(102.5)  # the same reply continuing
    timing.speech_onset(103.0, text="two", over_agent_audio=True)
    timing.clear(103.15)
    timing.speech_end(103.5, text="two")
    timing.speech_onset(104.0, text="three", over_agent_audio=True)  # no reply to "two", no clear for this
    turns, barge_ins = timing.finish()
    assert [(t.text, t.speech_end) for t in turns] == [("one", 2.0), ("two", 3.5)]
    assert turns[0].reply_latency == pytest.approx(0.4)
    assert turns[1].reply_latency is None
    assert [(b.text, round(b.onset, 6), b.reaction is None) for b in barge_ins] == [
        ("two", 3.0, False),
        ("three", 4.0, True),
    ]
    assert barge_ins[0].reaction == pytest.approx(0.15)


def test_the_line_knows_when_it_fell_silent():
    buffer = PlaybackBuffer(start=0.0)
    assert buffer.silent_since(0.5) == 0.0
    buffer.push_audio(b"\x01" * 4000, 1.0)  # half a second of audio from 1.0
    assert buffer.silent_since(1.2) is None
    assert buffer.silent_since(1.7) == pytest.approx(1.5)  # ran dry at 1.5, not yet advanced
    buffer.advance(1.8)
    assert buffer.silent_since(1.9) == pytest.approx(1.5)


def test_longest_silence_covers_the_wait_and_the_gaps_within_the_reply():
    timing = TimingCollector(0.0)
    timing.speech_end(1.0, text="one")
    timing.agent_audio(2.2, silent_since=0.5)  # a holding phrase, 1.2 s after the caller stopped
    timing.agent_audio(2.5, silent_since=None)  # more of it while it plays
    timing.agent_audio(4.0, silent_since=3.0)  # the reply, after a 1.0 s gap
    timing.speech_onset(6.0, text="two", over_agent_audio=False)
    timing.speech_end(7.0, text="two")  # never answered
    turns, _ = timing.finish()
    assert turns[0].reply_latency == pytest.approx(1.2)
    assert turns[0].longest_silence == pytest.approx(1.2)
    assert turns[1].reply_latency is None and turns[1].longest_silence is None
