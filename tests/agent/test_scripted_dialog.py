from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from agent import qualification
from agent.interfaces import DialogContext, DialogEvent, Message, Qualification, TextDelta, ToolCall
from agent.phrases import APOLOGY_OFFER_TRANSFER
from agent.scripted_dialog import ScriptedDialog
from agent.tools import AGENT_TOOLS

NOW = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)  # Tuesday 11:00 in New York
GREETING = "Thanks for calling Acme Realty! I'm Ava, an AI assistant. Are you looking to buy, sell, or rent?"


class Conversation:
    """Plays the session's part: keeps history and qualification, runs the scripted dialog turn by turn."""

    def __init__(self, *, purpose: Literal["marketing", "informational"] | None = None) -> None:
        self.dialog = ScriptedDialog()
        self.history: list[Message] = [Message("system", "prompt"), Message("assistant", GREETING)]
        self.qualification = Qualification()
        self.purpose = purpose

    def context(self) -> DialogContext:
        return DialogContext(
            business_name="Acme Realty",
            agent_name="Ava",
            language="en-US",
            direction="inbound",
            purpose=self.purpose,
            history=list(self.history),
            qualification=self.qualification,
            now=NOW,
            timezone="America/New_York",
        )

    def say(self, text: str) -> tuple[str, list[ToolCall]]:
        question = next(m.content for m in reversed(self.history) if m.role == "assistant")
        self.history.append(Message("user", text))
        self.qualification = qualification.update(self.qualification, text, last_question=question)
        return self._reply(self.dialog.plan(self.context(), AGENT_TOOLS))

    def tool_result(self, call: ToolCall, content: str) -> tuple[str, list[ToolCall]]:
        self.history.append(Message("tool", content, tool_call_id=call.id))
        return self._reply(self.dialog.plan(self.context(), AGENT_TOOLS))

    def _reply(self, events: list[DialogEvent]) -> tuple[str, list[ToolCall]]:
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        calls = [e for e in events if isinstance(e, ToolCall)]
        self.history.append(Message("assistant", text, tool_calls=tuple(calls)))
        return text, calls


def test_seller_flow_to_a_booked_appointment() -> None:
    c = Conversation()
    text, _ = c.say("Hi, I want to sell my condo in Austin next spring")
    assert text.startswith("Great, I can help you sell. A condo in Austin, got it.")
    assert text.endswith("Do you have a price in mind for the property?")
    text, _ = c.say("around four fifty")
    assert "name" in text
    text, _ = c.say("it's john smith")
    assert "email" in text
    text, _ = c.say("john dot smith at gmail dot com")
    assert "Thanks, John!" in text and "book a time" in text and "transfer you" in text
    text, calls = c.say("tomorrow at 3 pm works")
    assert [call.name for call in calls] == ["book_appointment"]
    assert calls[0].arguments["starts_at"] == "2025-06-04T15:00:00-04:00"
    assert "budget: 450000" in calls[0].arguments["notes"]
    text, calls = c.tool_result(calls[0], "Wednesday, June 4 at 3:00 PM, with one of our agents.")
    assert text.startswith("You're all set. Wednesday, June 4 at 3:00 PM") and "anything else" in text
    text, calls = c.say("no that's all thanks")
    assert [call.name for call in calls] == ["end_call"] and calls[0].arguments == {"reason": "completed"}
    assert c.qualification == Qualification(
        intent="sell", area="Austin", property_type="condo", timeline="next spring", budget=450_000,
        name="John Smith", email="john.smith@gmail.com",
    )  # fmt: skip


def test_buyer_is_asked_about_financing() -> None:
    c = Conversation()
    c.say("we're looking to buy a house")
    text, _ = c.say("in dallas")
    assert "timeline" in text
    c.say("within six months")
    text, _ = c.say("five hundred thousand")
    assert "pre-approved" in text
    text, _ = c.say("yes we are")
    assert c.qualification.financing == "pre_approved"
    assert "name" in text


def test_renter_budget_is_monthly() -> None:
    c = Conversation()
    c.say("i need to rent an apartment")
    c.say("near the university in austin")
    c.say("next month")
    text, _ = c.say("about 2500")
    assert c.qualification.budget == 2500
    assert "name" in text  # renters are not asked about mortgages


def test_unanswered_question_is_asked_again_once_then_skipped() -> None:
    c = Conversation()
    c.say("i want to sell my house in austin")
    c.say("next year")
    text, _ = c.say("hmm")
    assert text.startswith("Sorry, I didn't quite catch that.") and "price" in text
    text, _ = c.say("hmm")
    assert "name" in text


def test_declined_question_is_skipped() -> None:
    c = Conversation()
    c.say("i want to sell my house in austin next year")
    text, _ = c.say("i'd rather not say")
    assert "name" in text


def test_asking_for_a_person_transfers_from_any_point() -> None:
    c = Conversation()
    text, calls = c.say("can i just talk to a real person")
    assert [call.name for call in calls] == ["transfer_to_human"]
    assert "connect you" in text


def test_failed_transfer_offers_a_callback() -> None:
    c = Conversation()
    _, calls = c.say("transfer me please")
    text, calls = c.tool_result(calls[0], "error: no human agent is available right now")
    assert "no one is available" in text and not calls
    text, calls = c.say("friday at 10 am")
    assert [call.name for call in calls] == ["book_appointment"]
    assert calls[0].arguments["starts_at"] == "2025-06-06T10:00:00-04:00"


def test_choosing_transfer_at_the_offer() -> None:
    c = Conversation()
    c.history.append(Message("assistant", "I can book a time for you, or transfer you to an agent right now."))
    _, calls = c.say("let's talk to someone right now")
    assert [call.name for call in calls] == ["transfer_to_human"]


def test_choosing_an_appointment_without_a_time_asks_for_one() -> None:
    c = Conversation()
    c.history.append(Message("assistant", "I can book a time for you, or transfer you to an agent right now."))
    text, calls = c.say("an appointment would be great")
    assert not calls and "What day and time" in text


def test_yes_to_the_apology_transfer_offer_transfers() -> None:
    c = Conversation()
    c.history.append(Message("assistant", APOLOGY_OFFER_TRANSFER))
    _, calls = c.say("yes please")
    assert [call.name for call in calls] == ["transfer_to_human"]


def test_keep_going_after_the_apology_continues_qualifying() -> None:
    c = Conversation()
    c.history.append(Message("assistant", APOLOGY_OFFER_TRANSFER))
    text, calls = c.say("no let's keep going, i want to buy a condo")
    assert not calls and "area" in text


def test_opt_out_phrases_record_the_request() -> None:
    for phrase in ("stop calling me", "take me off your list", "do not call me again"):
        c = Conversation()
        _, calls = c.say(phrase)
        assert [call.name for call in calls] == ["record_opt_out"]
        assert calls[0].arguments == {"how": phrase}


def test_bare_stop_is_an_opt_out_on_marketing_calls_only() -> None:
    _, calls = Conversation(purpose="marketing").say("stop")
    assert [call.name for call in calls] == ["record_opt_out"]
    _, calls = Conversation().say("uh stop it")
    assert calls == []


def test_not_interested_ends_the_call() -> None:
    text, calls = Conversation().say("no thanks i'm not interested")
    assert [call.name for call in calls] == ["end_call"]
    assert calls[0].arguments == {"reason": "not_interested"}


def test_goodbye_ends_the_call() -> None:
    text, calls = Conversation().say("ok bye")
    assert [call.name for call in calls] == ["end_call"] and "Acme Realty" in text


def test_speech_in_pieces_is_read_together() -> None:
    c = Conversation()
    c.history.append(Message("user", "i want to sell"))
    text, _ = c.say("my condo in austin")
    assert text == "Great, I can help you sell. A condo in Austin, got it. What's your timeline for selling?"


def test_tools_not_offered_are_not_called() -> None:
    c = Conversation()
    c.history.append(Message("user", "transfer me"))
    events = c.dialog.plan(c.context(), [spec for spec in AGENT_TOOLS if spec.name != "transfer_to_human"])
    assert not any(isinstance(e, ToolCall) for e in events)


async def test_respond_streams_the_plan() -> None:
    c = Conversation()
    c.history.append(Message("user", "i want to buy"))
    events = [e async for e in c.dialog.respond(c.context(), AGENT_TOOLS)]
    assert events == c.dialog.plan(c.context(), AGENT_TOOLS)
