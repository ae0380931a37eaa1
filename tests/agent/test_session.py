from __future__ import annotations

import asyncio
import gc
import time
import warnings
from datetime import datetime
from zoneinfo import ZoneInfo

from agent import phrases
from agent.config import ComplianceDuties, Timeouts
from agent.fakes import FakeDialog, FakeSpeechToText, FakeTextToSpeech, RecordingCallActions, Stall
from agent.greeting import GreetingCache
from agent.interfaces import Message, ProviderError, TextDelta, ToolCall
from agent.scripted_dialog import ScriptedDialog
from tests.agent.audio_samples import SpeechFactory, cough_like, silence
from tests.agent.harness import Call, until

REPLY = "Sure thing. The home has four bedrooms and a pool. Want to see it?"


# --- greeting


async def test_warm_greeting_leaves_before_start_returns(speech: SpeechFactory) -> None:
    call = Call(speech)
    await call.warm_greeting()
    started = time.perf_counter()
    await call.session.start()
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert call.transport.events[0][0] == "audio" and call.transport.events[1][0] == "mark"
    assert elapsed_ms < 50
    greeting = call.session.greeting_text()
    assert "Acme Realty" in greeting and "AI assistant" in greeting
    assert len(call.transport.audio) == call.tts.audio_ms(greeting) * 8  # type: ignore[attr-defined]


async def test_cold_greeting_is_streamed_then_cached_for_the_next_call(speech: SpeechFactory) -> None:
    cache = GreetingCache()
    tts = FakeTextToSpeech(first_byte_latency_s=0.01)
    first = Call(speech, tts=tts, greetings=cache)
    await first.session.start()
    assert first.transport.audio == b""  # synthesis runs in the background
    await until(lambda: bool(first.transport.marks_sent))
    await first.settle()
    assert len(cache) == 2  # the greeting, and the holding phrase for late replies

    second = Call(speech, tts=tts, greetings=cache)
    await second.session.start()
    assert second.transport.audio == first.transport.audio
    assert sorted(tts.texts) == sorted([first.session.greeting_text(), phrases.HOLD])


async def test_greeting_is_in_the_history_and_transcript(speech: SpeechFactory) -> None:
    call = Call(speech)
    await call.answer()
    history = call.session.history
    assert history[0].role == "system" and "Acme Realty" in history[0].content
    assert history[1] == Message("assistant", call.session.greeting_text())
    assert call.agent_lines() == [call.session.greeting_text()]


# --- a turn


async def test_caller_turn_gets_a_streamed_reply_with_marks(speech: SpeechFactory) -> None:
    stt = FakeSpeechToText(["hi i want to sell my condo in austin next spring"])
    dialog = FakeDialog([REPLY])
    call = Call(speech, stt=stt, dialog=dialog)
    await call.answer()
    greeting_marks = len(call.transport.marks_sent)

    await call.say("Hi, I want to sell my condo in Austin next spring.")
    await call.settle()

    # one mark after each chunk of the reply, audio before each mark
    events = call.transport.events
    first_reply_mark = [i for i, (kind, _) in enumerate(events) if kind == "mark"][greeting_marks]
    segments = "".join("m" if kind == "mark" else "a" for kind, _ in events[first_reply_mark - 1 :])
    assert segments.count("m") == 3 and segments.endswith("m") and "mm" not in segments
    assert call.tts.texts[-3:] == ["Sure thing.", "The home has four bedrooms and a pool.", "Want to see it?"]  # type: ignore[attr-defined]
    # the recognizer heard the pre-roll and the whole utterance
    assert stt.streams[0].fed_bytes >= len(speech("Hi, I want to sell my condo in Austin next spring."))
    assert stt.streams[0].closed
    context = dialog.contexts[0]
    assert context.history[-1] == Message("user", "hi i want to sell my condo in austin next spring")
    assert context.qualification.as_dict() == {
        "intent": "sell", "area": "Austin", "property_type": "condo", "timeline": "next spring",
    }  # fmt: skip
    assert "area: Austin" in context.history[0].content  # the prompt knows what was learned
    await call.play()
    result = call.session.result()
    assert [e.speaker for e in result.transcript] == ["agent", "caller", "agent"]
    caller = result.transcript[1]
    assert caller.start_ms < caller.end_ms < result.transcript[2].start_ms
    assert result.transcript[2].text == REPLY and not result.transcript[2].interrupted


async def test_empty_recognition_is_not_a_turn(speech: SpeechFactory) -> None:
    dialog = FakeDialog()
    call = Call(speech, stt=FakeSpeechToText([""]), dialog=dialog)
    await call.answer()
    await call.say("Mm.")
    await call.settle()
    assert dialog.contexts == []


async def test_caller_who_keeps_talking_gets_one_answer_to_both_parts(speech: SpeechFactory) -> None:
    stt = FakeSpeechToText(["i want to buy", "a condo in dallas"])
    dialog = FakeDialog(["First answer.", "Second answer."], first_token_latency_s=0.3)
    call = Call(speech, stt=stt, dialog=dialog)
    await call.answer()
    await call.say("I want to buy")
    await until(lambda: len(dialog.contexts) == 1)  # the first reply is being thought about
    await call.say("a condo in Dallas")
    await call.settle()
    assert len(dialog.contexts) == 2
    assert [m.content for m in dialog.contexts[1].history[-2:]] == ["i want to buy", "a condo in dallas"]
    assert "First answer." not in call.tts.texts  # type: ignore[attr-defined]
    assert "Second answer." in call.tts.texts  # type: ignore[attr-defined]


# --- barge-in


async def test_barge_in_clears_and_keeps_only_what_was_heard(speech: SpeechFactory) -> None:
    stt = FakeSpeechToText(["tell me about the house", "wait how much is it"])
    dialog = FakeDialog([REPLY, "It's four fifty."])
    call = Call(speech, stt=stt, dialog=dialog)
    await call.answer()
    await call.say("Tell me about the house.")
    await call.settle()
    assert call.transport.clears == 0

    # the caller hears "Sure thing." (550 ms) and half of the 1900 ms second sentence, then talks over it
    await call.play(550 + 950)
    await call.say("Wait, how much is it?", advance_clock=False)
    await call.settle()

    assert call.transport.clears == 1
    heard = "Sure thing. The home has four"
    assert dialog.contexts[1].history[-2:] == [Message("assistant", heard), Message("user", "wait how much is it")]
    agent = [e for e in call.session.result().transcript if e.speaker == "agent"]
    assert agent[1].text == heard and agent[1].interrupted
    assert "Want to see it?" not in call.session.history[-3].content


async def test_barge_in_during_the_greeting(speech: SpeechFactory) -> None:
    stt = FakeSpeechToText(["i want to sell"])
    call = Call(speech, stt=stt, dialog=FakeDialog(["Great."]))
    await call.warm_greeting()
    await call.session.start()
    await call.play(1000)  # one second of a long greeting
    await call.say("I want to sell", advance_clock=False)
    await call.settle()
    assert call.transport.clears == 1
    greeting = call.session.result().transcript[0]
    assert greeting.interrupted and call.session.greeting_text().startswith(greeting.text)
    assert len(greeting.text) < len(call.session.greeting_text()) / 2


async def test_speech_while_the_reply_is_being_thought_about_cancels_it(speech: SpeechFactory) -> None:
    dialog = FakeDialog(["Too late."], first_token_latency_s=0.2)
    call = Call(speech, stt=FakeSpeechToText(["hello", "sorry go on"]), dialog=dialog)
    await call.answer()
    await call.say("Hello")
    await until(lambda: len(dialog.contexts) == 1)
    await call.feed(silence(200) + speech("Sorry, go on"))
    assert "Too late." not in call.tts.texts  # type: ignore[attr-defined]
    assert call.transport.clears == 0  # nothing was playing, so nothing to clear


async def test_a_cough_does_not_interrupt(speech: SpeechFactory) -> None:
    call = Call(speech, stt=FakeSpeechToText(["tell me more"]), dialog=FakeDialog([REPLY]))
    await call.answer()
    await call.say("Tell me more.")
    await call.settle()
    await call.feed(silence(100) + cough_like(150) + silence(600))
    assert call.transport.clears == 0


# --- keys, transfers and opt-outs


async def test_dtmf_zero_transfers_after_the_announcement_plays(speech: SpeechFactory) -> None:
    call = Call(speech)
    await call.answer()
    await call.session.on_dtmf("0")
    await until(lambda: phrases.TRANSFERRING in call.tts.texts)  # type: ignore[attr-defined]
    await asyncio.sleep(0.01)
    assert call.actions.named("transfer_to_human") == []  # still announcing
    await call.play()
    await until(call.session.finished.is_set)
    assert call.actions.named("transfer_to_human") == [{"reason": "caller pressed 0"}]
    assert call.session.result().outcome == "transferred"


async def test_dtmf_zero_without_a_human_keeps_the_caller(speech: SpeechFactory) -> None:
    call = Call(speech, actions=RecordingCallActions(transfer_result=False))
    await call.answer()
    await call.session.on_dtmf("0")
    await until(lambda: bool(call.actions.named("transfer_to_human")) or call.transport.pending_ms > 0)
    await call.play()
    await until(lambda: phrases.TRANSFER_UNAVAILABLE in call.tts.texts)  # type: ignore[attr-defined]
    assert not call.session.finished.is_set()


async def test_spoken_opt_out_is_recorded_then_confirmed_then_hung_up(speech: SpeechFactory) -> None:
    dialog = FakeDialog()
    call = Call(speech, stt=FakeSpeechToText(["please stop calling me"]), dialog=dialog)
    await call.answer()
    await call.say("Please stop calling me.")
    await until(lambda: phrases.OPT_OUT_CONFIRMED in call.tts.texts)  # type: ignore[attr-defined]
    assert [name for name, _ in call.actions.calls] == ["record_opt_out"]
    await call.play()
    await until(call.session.finished.is_set)
    assert [name for name, _ in call.actions.calls] == ["record_opt_out", "end_call"]
    assert call.actions.named("record_opt_out") == [{"how": 'said "please stop calling me"'}]
    assert dialog.contexts == []  # no model decides whether to honour it
    assert call.session.result().outcome == "opted_out"


async def test_marketing_call_offers_and_honours_the_interactive_opt_out(speech: SpeechFactory) -> None:
    call = Call(
        speech,
        direction="outbound",
        purpose="marketing",
        compliance=ComplianceDuties(identify=True, interactive_opt_out=True),
    )
    greeting = call.session.greeting_text()
    assert "calling on behalf of Acme Realty" in greeting and "say stop or press 9" in greeting
    await call.answer()
    await call.session.on_dtmf("9")
    await until(lambda: bool(call.actions.named("record_opt_out")))
    await call.play()
    await until(call.session.finished.is_set)
    assert call.actions.named("record_opt_out") == [{"how": "pressed 9"}]
    assert call.session.result().opted_out


async def test_saying_stop_on_a_marketing_call_opts_out(speech: SpeechFactory) -> None:
    call = Call(
        speech,
        stt=FakeSpeechToText(["stop"]),
        direction="outbound",
        purpose="marketing",
        compliance=ComplianceDuties(interactive_opt_out=True),
    )
    await call.answer()
    await call.say("Stop.")
    await until(lambda: bool(call.actions.named("record_opt_out")))


async def test_nine_means_nothing_on_other_calls(speech: SpeechFactory) -> None:
    call = Call(speech)
    await call.answer()
    await call.session.on_dtmf("9")
    await call.settle()
    assert call.actions.calls == []


# --- tools from the dialog


async def test_booking_tool_in_the_organizations_zone(speech: SpeechFactory) -> None:
    dialog = FakeDialog(
        [
            [TextDelta("Booking that now."),
             ToolCall("c1", "book_appointment", {"starts_at": "2025-06-04T15:00", "notes": "seller, Austin"})],
            "Done, see you then.",
        ]
    )  # fmt: skip
    call = Call(speech, stt=FakeSpeechToText(["tomorrow at three"]), dialog=dialog)
    await call.answer()
    await call.say("Tomorrow at three.")
    await call.settle()
    booked = call.actions.named("book_appointment")[0]
    assert booked["starts_at"] == datetime(2025, 6, 4, 15, 0, tzinfo=ZoneInfo("America/Chicago"))
    follow_up = dialog.contexts[1].history
    assert follow_up[-2].tool_calls[0].id == "c1"
    assert follow_up[-1] == Message("tool", "Wednesday, June 4 at 3:00 PM, with one of our agents.", tool_call_id="c1")
    assert "Done, see you then." in call.tts.texts  # type: ignore[attr-defined]
    assert call.session.result().outcome == "appointment_set"


async def test_end_call_waits_for_the_goodbye_to_play(speech: SpeechFactory) -> None:
    dialog = FakeDialog([[TextDelta("Goodbye!"), ToolCall("c1", "end_call", {"reason": "not_interested"})]])
    call = Call(speech, stt=FakeSpeechToText(["not interested"]), dialog=dialog)
    await call.answer()
    await call.say("Not interested.")
    await until(lambda: "Goodbye!" in call.tts.texts)  # type: ignore[attr-defined]
    await asyncio.sleep(0.01)
    assert call.actions.named("end_call") == []
    await call.play()
    await until(call.session.finished.is_set)
    assert call.session.result().outcome == "not_interested"


# --- failures never mean dead air


async def test_dialog_failure_is_answered_by_the_fallback_dialog(speech: SpeechFactory) -> None:
    dialog = FakeDialog([ProviderError("model overloaded")])
    call = Call(
        speech,
        stt=FakeSpeechToText(["i want to buy a house", "in austin"]),
        dialog=dialog,
        fallback_dialog=ScriptedDialog(),
    )
    await call.answer()
    await call.say("I want to buy a house.")
    await call.settle()
    assert call.agent_lines()[-1] == "Wonderful, I can help you find a place. What area are you looking to buy in?"
    await call.play()
    await call.say("In Austin.")
    await call.settle()
    result = call.session.result()
    assert call.agent_lines()[-1] == "Got it. What's your timeline for buying?"
    assert result.provider_failures == ("dialog fake-dialog: ProviderError after 0 ms",)
    assert len(dialog.contexts) == 1  # the failed dialog is not asked again
    assert result.qualification.intent == "buy" and result.qualification.area is not None


async def test_stalled_dialog_without_fallback_times_out_into_the_apology(speech: SpeechFactory) -> None:
    call = Call(
        speech,
        stt=FakeSpeechToText(["hello"]),
        dialog=FakeDialog([Stall()]),
        timeouts=Timeouts(dialog_first_token=0.05),
    )
    await call.answer()
    await call.say("Hello.")
    await call.settle()
    assert call.agent_lines()[-1] == phrases.APOLOGY_OFFER_TRANSFER
    (failure,) = call.session.result().provider_failures
    assert failure.startswith("dialog fake-dialog: TimeoutError after ")


async def test_voice_failure_switches_to_the_fallback_voice(speech: SpeechFactory) -> None:
    tts = FakeTextToSpeech(fail_calls={3})  # the first two synthesize the greeting and holding phrase for the cache
    local = FakeTextToSpeech(name="local-voice")
    call = Call(speech, stt=FakeSpeechToText(["hello"]), dialog=FakeDialog(["Hi there."]), tts=tts, fallback_tts=local)
    await call.warm_greeting()
    await call.answer()
    await call.say("Hello.")
    await call.settle()
    assert local.texts == ["Hi there.", phrases.APOLOGY_OFFER_TRANSFER]
    assert call.agent_lines()[-1] == f"Hi there. {phrases.APOLOGY_OFFER_TRANSFER}"
    assert call.session.result().provider_failures == ("tts fake-tts: ProviderError after 0 ms",)


async def test_recognizer_failure_re_recognizes_with_the_fallback(speech: SpeechFactory) -> None:
    fallback = FakeSpeechToText(["i want to sell", "next spring"], name="local-stt")
    dialog = FakeDialog(["Great.", "Noted."])
    call = Call(speech, stt=FakeSpeechToText([ProviderError("socket closed")]), fallback_stt=fallback, dialog=dialog)
    await call.answer()
    await call.say("I want to sell.")
    await call.settle()
    assert dialog.contexts[0].history[-1] == Message("user", "i want to sell")
    assert fallback.streams[0].fed_bytes > 16_000  # the whole utterance, from the detector
    await call.play()
    await call.say("Next spring.")
    await call.settle()
    assert len(fallback.streams) == 2  # the fallback stays in use
    assert call.session.result().provider_failures == ("stt fake-stt: ProviderError after 0 ms",)


async def test_recognizer_failure_without_fallback_asks_again(speech: SpeechFactory) -> None:
    dialog = FakeDialog()
    call = Call(speech, stt=FakeSpeechToText([ProviderError("down")]), dialog=dialog)
    await call.answer()
    await call.say("Hello there.")
    await call.settle()
    assert call.agent_lines()[-1] == phrases.DID_NOT_CATCH
    assert dialog.contexts == []


async def test_no_voice_at_all_hands_the_call_to_a_person(speech: SpeechFactory) -> None:
    call = Call(
        speech,
        stt=FakeSpeechToText(["hello"]),
        dialog=FakeDialog(["Hi."]),
        tts=FakeTextToSpeech(fail_calls=range(1, 10)),
        fallback_tts=FakeTextToSpeech(name="local", fail_calls=range(1, 10)),
        greetings=None,
    )
    await call.session.start()
    await until(call.session.finished.is_set)
    assert call.actions.named("transfer_to_human") == [{"reason": "the agent's voice failed"}]
    assert call.session.result().outcome == "transferred"


# --- records


async def test_latency_breakdown_per_turn(speech: SpeechFactory) -> None:
    call = Call(
        speech,
        stt=FakeSpeechToText(["hi"], latency_s=0.03),
        dialog=FakeDialog(["Hello! How can I help?"], first_token_latency_s=0.04),
        tts=FakeTextToSpeech(first_byte_latency_s=0.02),
        realtime=True,
    )
    await call.warm_greeting()
    await call.session.start()
    await call.say("Hi.")
    await call.settle()
    (turn,) = call.session.result().turns
    assert turn.endpointing_ms == 400
    assert turn.stt_final_ms is not None and turn.stt_final_ms >= 30
    assert turn.dialog_first_token_ms is not None and turn.dialog_first_token_ms >= 40
    assert turn.first_chunk_ms is not None and turn.first_chunk_ms >= turn.dialog_first_token_ms
    assert turn.tts_first_byte_ms is not None and turn.tts_first_byte_ms >= 20
    assert turn.first_audio_out_ms is not None and turn.first_audio_out_ms >= 90
    assert turn.overhead_ms is not None and -1 <= turn.overhead_ms < 50
    assert set(turn.as_dict()) >= {"endpointing_ms", "stt_final_ms", "first_audio_out_ms", "overhead_ms"}
    await call.transport.aclose()


async def test_outcomes(speech: SpeechFactory) -> None:
    silent = Call(speech)
    await silent.answer()
    await silent.session.stop()
    assert silent.session.result().outcome == "no_answer"

    # intent and area are not enough: a budget or a timeline makes the call qualified
    stt = FakeSpeechToText(["i want to sell my condo in austin", "next spring"])
    qualified = Call(speech, stt=stt, dialog=FakeDialog(["Ok.", "Ok."]))
    await qualified.answer()
    await qualified.say("I want to sell my condo in Austin.")
    await qualified.settle()
    assert qualified.session.result().outcome == "not_interested"
    await qualified.say("Next spring.")
    await qualified.settle()
    await qualified.session.stop()
    result = qualified.session.result()
    assert result.outcome == "qualified"
    assert result.qualification.as_dict() == {
        "intent": "sell", "area": "Austin", "property_type": "condo", "timeline": "next spring"
    }  # fmt: skip


async def test_stop_mid_reply_cancels_cleanly(speech: SpeechFactory) -> None:
    stt = FakeSpeechToText(["hello"])
    call = Call(speech, stt=stt, dialog=FakeDialog([Stall()]))
    await call.answer()
    await call.say("Hello.")
    await asyncio.sleep(0.02)
    await call.session.stop()
    assert call.session.finished.is_set()
    assert all(s.closed for s in stt.streams)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
    await call.session.feed_audio(speech("Hello."))  # late audio after stop is ignored
    assert call.session.result().transcript[-1].text == "hello"


async def test_silent_caller_is_prompted_then_let_go(speech: SpeechFactory) -> None:
    call = Call(speech)
    await call.answer()
    await call.feed(silence(7000))
    assert phrases.STILL_THERE not in call.tts.texts  # type: ignore[attr-defined]
    for _ in range(2):
        await call.feed(silence(1100))
        await until(lambda: call.transport.pending_ms > 0)
        await call.play()
        await call.feed(silence(7000))
    assert call.agent_lines()[1:] == [phrases.STILL_THERE, phrases.STILL_THERE]  # the second from the cache
    await call.feed(silence(1100))
    await until(lambda: phrases.GOODBYE_NO_RESPONSE in call.tts.texts)  # type: ignore[attr-defined]
    await call.play()
    await until(call.session.finished.is_set)
    assert call.actions.named("end_call") == [{}]
    assert call.session.result().outcome == "no_answer"


async def test_a_caller_who_answers_resets_the_reprompts(speech: SpeechFactory) -> None:
    call = Call(speech, stt=FakeSpeechToText(["yes i'm here"]), dialog=FakeDialog(["Great."]))
    await call.answer()
    await call.feed(silence(8100))
    await until(lambda: call.transport.pending_ms > 0)
    await call.play()
    await call.say("Yes, I'm here.")
    await call.settle()
    await call.play()
    await call.feed(silence(5000))
    assert call.agent_lines()[1:] == [phrases.STILL_THERE, "Great."]


async def test_work_the_hang_up_cancels_before_it_started_leaves_nothing_unawaited(speech: SpeechFactory) -> None:
    call = Call(speech)
    await call.answer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await call.session.on_dtmf("0")  # spawns the transfer; the hang-up comes before it ever runs
        await call.session.stop()
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
    assert call.actions.named("transfer_to_human") == []
