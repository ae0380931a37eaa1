from __future__ import annotations

from agent.playback import PlaybackTracker, SpokenReply


def sent(tracker: PlaybackTracker, reply: SpokenReply, text: str, *, ms: int, at: float) -> str:
    chunk = tracker.new_chunk(reply, text)
    tracker.audio_sent(chunk, ms * 8, at)
    return chunk.mark


def test_echoes_settle_chunks_in_order() -> None:
    tracker = PlaybackTracker()
    reply = SpokenReply()
    first = sent(tracker, reply, "One.", ms=1000, at=0.0)
    second = sent(tracker, reply, "Two.", ms=1000, at=0.1)
    assert tracker.speaking
    assert tracker.remaining_s(0.5) == 1.5
    assert tracker.on_mark(second, 2.0)  # a later mark implies the earlier ones
    assert not tracker.speaking
    assert [c.played_at for c in reply.chunks] == [2.0, 2.0]
    assert not tracker.on_mark(first, 2.1)  # already settled


def test_interrupt_keeps_what_was_heard() -> None:
    tracker = PlaybackTracker()
    reply = SpokenReply()
    first = sent(tracker, reply, "Sure thing.", ms=1000, at=0.0)
    sent(tracker, reply, "The home has four bedrooms and a pool.", ms=2000, at=0.0)
    sent(tracker, reply, "Want to see it?", ms=1000, at=0.0)
    tracker.on_mark(first, 1.0)
    affected = tracker.interrupt(2.0)  # one second into the two-second second chunk
    assert affected == [reply]
    assert reply.interrupted and reply.ended_at == 2.0
    assert reply.heard_text() == "Sure thing. The home has four"
    assert not tracker.speaking
    assert not tracker.on_mark("m3", 2.1)  # the echo Twilio sends for a cleared mark


def test_interrupt_before_anything_played() -> None:
    tracker = PlaybackTracker()
    reply = SpokenReply()
    sent(tracker, reply, "Hello there.", ms=1000, at=5.0)
    tracker.interrupt(5.0)
    assert reply.heard_text() == ""


def test_playback_start_follows_the_previous_chunk() -> None:
    tracker = PlaybackTracker()
    greeting, answer = SpokenReply(), SpokenReply()
    mark = sent(tracker, greeting, "Welcome.", ms=3000, at=0.0)
    sent(tracker, answer, "Hi.", ms=500, at=1.0)
    assert answer.chunks[0].started_at == 3.0  # queued behind the greeting
    tracker.on_mark(mark, 3.4)  # the far end was a little late
    assert answer.chunks[0].started_at == 3.4
    assert tracker.remaining_s(3.4) == 0.5


def test_unsent_chunks_are_discarded() -> None:
    tracker = PlaybackTracker()
    reply = SpokenReply()
    chunk = tracker.new_chunk(reply, "Never synthesized.")
    tracker.discard(chunk)
    assert not tracker.speaking
    assert reply.heard_text() == ""
