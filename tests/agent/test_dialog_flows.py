"""The scripted dialog's tighter flows: opt-outs confirmed when unclear, a message instead of a transfer that
cannot happen, low-confidence facts read back, a second ask worded differently; and the same through a
whole agent session."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent import phrases, tools
from agent.fakes import FakeSpeechToText
from agent.interfaces import DialogContext, Message
from agent.scripted_dialog import ScriptedDialog
from tests.agent.audio_samples import SpeechFactory
from tests.agent.harness import Call, until
from tests.agent.test_scripted_dialog import Conversation


class Dialog(Conversation):
    """The scripted dialog's conversation helper, on a line with or without a human to transfer to."""

    def __init__(self, *, can_transfer: bool = True) -> None:
        super().__init__()
        self.can_transfer = can_transfer

    def context(self) -> DialogContext:
        return replace(super().context(), can_transfer=self.can_transfer)

    def say_heard(self, text: str, *, confidence: float) -> str:
        """The caller's words as a recognizer reporting ``confidence`` heard them."""
        text_out, _ = self.say(text)
        self.history.pop()  # the reply, replayed below with the confidence on the caller's message
        self.history[-1] = replace(self.history[-1], confidence=confidence)
        reply, _ = self._reply(self.dialog.plan(self.context(), tools.AGENT_TOOLS))
        return reply


def test_an_unclear_opt_out_is_confirmed_once_then_recorded() -> None:
    c = Dialog()
    text, calls = c.say("don't call me at work")
    assert text == phrases.CONFIRM_OPT_OUT and calls == []
    text, calls = c.say("yes please")
    assert [call.name for call in calls] == [tools.RECORD_OPT_OUT]
    assert calls[0].arguments == {"how": "don't call me at work (confirmed: yes please)"}


def test_an_unclear_opt_out_declined_goes_on_with_the_call() -> None:
    c = Dialog()
    c.say("no more calling")
    text, calls = c.say("no no, i want to sell my house in austin")
    assert calls == [] and c.qualification.intent == "sell" and c.qualification.area == "Austin"
    assert "timeline" in text or "price" in text or "kind of property" in text


def test_a_clear_opt_out_is_recorded_without_asking() -> None:
    _, calls = Dialog().say("please take me off your list")
    assert [call.name for call in calls] == [tools.RECORD_OPT_OUT]


def test_without_a_transfer_number_a_message_is_taken() -> None:
    c = Dialog(can_transfer=False)
    text, calls = c.say("can i talk to a real person")
    assert text == phrases.TAKE_MESSAGE_OFFER and calls == []
    assert "connect" not in text and "transfer" not in text
    text, calls = c.say("have them call me about listing my house on elm street")
    assert text == phrases.MESSAGE_TAKEN
    assert [(call.name, call.arguments) for call in calls] == [
        (tools.TAKE_MESSAGE, {"message": "have them call me about listing my house on elm street"})
    ]
    text, _ = c.tool_result(calls[0], "message recorded; an agent will call back")
    assert text == "Is there anything else I can help you with?"


def test_without_a_transfer_number_the_closing_offer_is_a_callback() -> None:
    c = Dialog(can_transfer=False)
    for said in ("i want to sell my townhouse in dallas", "next year", "about five hundred thousand",
                 "mary jones", "mary at example dot com"):  # fmt: skip
        text, _ = c.say(said)
    assert "call you back" in text and "transfer" not in text
    text, calls = c.say("right now please")
    assert text == phrases.TAKE_MESSAGE_OFFER and calls == []


def test_with_a_transfer_number_a_person_is_still_offered() -> None:
    _, calls = Dialog().say("can i talk to a real person")
    assert [call.name for call in calls] == [tools.TRANSFER_TO_HUMAN]


def test_low_confidence_facts_are_read_back_and_a_no_asks_again() -> None:
    c = Dialog()
    text = c.say_heard("i want to sell my condo in austin", confidence=0.3)
    assert text == "Just to check which area: you'd like to sell, in Austin, is that right?"
    text, _ = c.say("no")
    assert text == "Sorry about that. Where is the property you're selling?"
    text, _ = c.say("dallas")
    assert c.qualification.area == "Dallas" and text.endswith("What's your timeline for selling?")


def test_confident_facts_are_acknowledged_without_a_question() -> None:
    text = Dialog().say_heard("i want to sell my condo in austin", confidence=0.95)
    assert "is that right" not in text and "A condo in Austin, got it." in text


def test_a_second_miss_is_reprompted_differently() -> None:
    c = Dialog()
    c.say("i want to sell my house in austin")
    first, _ = c.say("next year")
    assert first.endswith("Do you have a price in mind for the property?")
    second, _ = c.say("hmm")
    assert second.startswith("Sorry, I didn't quite catch that.") and "price in mind" not in second
    assert "price range" in second
    c.say("four fifty")
    assert c.qualification.budget == 450_000  # the reworded question still reads the answer as a budget


@pytest.mark.parametrize("said", ["Don't stop.", "I'm not interested in condos."])
def test_a_near_miss_is_no_opt_out_in_a_session(speech: SpeechFactory, said: str) -> None:
    context = Dialog().context()
    context.history.append(Message("user", said.lower()))
    events = ScriptedDialog().plan(context, tools.AGENT_TOOLS)
    assert not any(getattr(e, "name", None) == tools.RECORD_OPT_OUT for e in events)


async def test_a_session_without_a_transfer_number_ends_with_a_message(speech: SpeechFactory) -> None:
    stt = FakeSpeechToText(["can i speak to a person", "please call me back about my listing"])
    call = Call(speech, stt=stt, dialog=ScriptedDialog(), transfer_available=False)
    await call.answer()
    await call.say("Can I speak to a person?")
    await call.settle()
    await call.play()
    await call.say("Please call me back about my listing.")
    await call.settle()
    await call.play()
    await call.session.stop()
    result = call.session.result()
    assert result.outcome == "message_taken"
    assert result.message == "please call me back about my listing"
    assert call.actions.named("transfer_to_human") == []
    assert phrases.TAKE_MESSAGE_OFFER in call.agent_lines()


async def test_a_key_press_for_a_person_without_a_transfer_number_offers_a_callback(speech: SpeechFactory) -> None:
    call = Call(speech, transfer_available=False)
    await call.answer()
    await call.session.on_dtmf("0")
    await call.settle()
    await call.play()
    assert call.actions.named("transfer_to_human") == []
    assert call.agent_lines()[-1] == phrases.TAKE_MESSAGE_OFFER


async def test_a_confirmed_opt_out_is_recorded_through_the_call_actions(speech: SpeechFactory) -> None:
    stt = FakeSpeechToText(["don't call me at work", "yes"])
    call = Call(speech, stt=stt, dialog=ScriptedDialog())
    await call.answer()
    await call.say("Don't call me at work.")
    await call.settle()
    await call.play()
    assert call.actions.named("record_opt_out") == []  # asked first
    assert call.agent_lines()[-1] == phrases.CONFIRM_OPT_OUT
    await call.say("Yes.")
    await until(lambda: bool(call.actions.named("record_opt_out")))
    await call.play()
    await until(call.session.finished.is_set)
    # recorded as any opt-out the dialog asks for is, with the words it was about
    assert call.actions.named("record_opt_out") == [{"how": "don't call me at work (confirmed: yes)"}]
    assert call.session.result().outcome == "opted_out"
