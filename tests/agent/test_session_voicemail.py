"""Leaving a voicemail when the host detects an answering machine."""

from __future__ import annotations

import asyncio

from agent.fakes import FakeSpeechToText
from tests.agent.audio_samples import SpeechFactory
from tests.agent.harness import Call, until

VOICEMAIL = (
    "Hi, this is Ava, calling for Acme Realty about your home search. Please call us back at "
    "5 1 2, 5 5 5, 0 1 2 3. If you'd rather not hear from us, call that number and say stop."
)


def _after_clear(call: Call) -> list[tuple[str, object]]:
    events = call.transport.events
    cleared = max(i for i, (kind, _) in enumerate(events) if kind == "clear")
    return events[cleared + 1 :]


async def test_voicemail_drops_what_plays_says_the_message_in_full_then_hangs_up(speech: SpeechFactory) -> None:
    stt = FakeSpeechToText(["hello"])
    call = Call(speech, stt=stt, direction="outbound")
    await call.session.start()
    await until(lambda: bool(call.transport.marks_sent))
    await call.play(700)  # the machine's greeting talks over ours; the beep comes mid-greeting

    leaving = asyncio.create_task(call.session.leave_voicemail(VOICEMAIL))
    await until(lambda: call.transport.clears == 1 and call.transport.events[-1][0] == "mark")
    assert not call.actions.named("end_call"), "the call is not ended before the message has played"

    await call.play()  # the recording hears the whole message; the mark echo comes back
    await asyncio.wait_for(leaving, 3)
    assert call.actions.named("end_call") and call.session.finished.is_set()
    message_audio = sum(size for kind, size in _after_clear(call) if kind == "audio")  # type: ignore[misc]
    assert message_audio == call.tts.audio_ms(VOICEMAIL) * 8  # type: ignore[attr-defined]

    agent = [e for e in call.session.result().transcript if e.speaker == "agent"]
    assert agent[0].interrupted and agent[-1].text == VOICEMAIL and not agent[-1].interrupted

    texts_before = list(call.tts.texts)  # type: ignore[attr-defined]
    await call.say("Hello? Who is this?")
    assert not stt.streams, "nothing is listened to once the message is being left"
    assert call.tts.texts == texts_before  # type: ignore[attr-defined]


async def test_a_call_already_ending_leaves_no_voicemail(speech: SpeechFactory) -> None:
    call = Call(speech, direction="outbound")
    await call.answer()
    first = asyncio.create_task(call.session.leave_voicemail(VOICEMAIL))
    await until(lambda: VOICEMAIL in call.tts.texts and call.transport.events[-1][0] == "mark")  # type: ignore[attr-defined]
    await call.session.leave_voicemail("A second message.")
    assert "A second message." not in call.tts.texts  # type: ignore[attr-defined]
    await call.play()
    await asyncio.wait_for(first, 3)
    assert len(call.actions.named("end_call")) == 1
