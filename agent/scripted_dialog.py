"""A dialog without a language model: the real-estate qualification flow, driven by keyword and number
extraction. It needs no network, so it is the embedded default and the fallback when the model fails.

Its state is the conversation itself (history and qualification in the :class:`DialogContext`), so one
instance serves any number of calls and it picks up a conversation another dialog started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from agent import intents, qualification, tools
from agent.appointment_time import parse_appointment_time
from agent.clock import utc_now
from agent.interfaces import DialogContext, DialogEvent, Message, Qualification, TextDelta, ToolCall, ToolSpec
from agent.phrases import CONFIRM_OPT_OUT, MESSAGE_TAKEN, TAKE_MESSAGE_OFFER, TRANSFER_UNAVAILABLE
from agent.places import Places, us_place_names
from agent.qualification import Field

_OFFER_MARK = "or transfer you to an agent right now"
_CALLBACK_OFFER_MARK = "or have an agent call you back"
_MESSAGE_MARK = "what would you like me to pass along"
_OPT_OUT_MARK = "take your number off our call list"
_CHECK_MARK = "is that right"
_CONFIDENT = 0.6
"""Below this recognizer confidence the facts just heard are read back as a question, not acknowledged."""
_CHECKED_FIELDS: tuple[Field, ...] = ("intent", "area", "budget", "timeline")
_ASK_TIME_MARK = "what day and time"
_ANYTHING_ELSE = "anything else I can help you with"
_ANYTHING_ELSE_MARK = _ANYTHING_ELSE.lower()
_MAX_ASKS = 2

_QUESTIONS: dict[Field, dict[str | None, str]] = {
    "intent": {None: "Are you looking to buy, sell, or rent?"},
    "area": {
        "buy": "What area are you looking to buy in?",
        "sell": "Where is the property you're selling?",
        "rent": "What area would you like to rent in?",
        None: "What area are you interested in?",
    },
    "property_type": {
        "sell": "What kind of property is it: a house, a condo, or a townhouse?",
        None: "What kind of property are you looking for: a house, a condo, or a townhouse?",
    },
    "timeline": {
        "buy": "What's your timeline for buying?",
        "sell": "What's your timeline for selling?",
        "rent": "When would you like to move in?",
        None: "What's your timeline?",
    },
    "budget": {
        "sell": "Do you have a price in mind for the property?",
        "rent": "What's your monthly budget?",
        None: "What price range are you considering?",
    },
    "financing": {None: "Have you been pre-approved for a mortgage yet, or will you be paying cash?"},
    "name": {None: "May I have your name, please?"},
    "email": {None: "And what's the best email address to reach you?"},
}
_REPHRASED: dict[Field, str] = {
    "intent": "Are you hoping to buy or sell a home, or to rent one?",
    "area": "Which city or neighborhood? A zip code works too.",
    "property_type": "What kind of property: a single-family house, a condo, a townhouse, or something else?",
    "timeline": "Roughly what timeline: the next few months, later this year, or next year?",
    "budget": "Roughly what price range? A ballpark like four hundred thousand is fine.",
    "financing": "Will you be using a mortgage, or paying cash?",
    "name": "Could I get your full name? Spelling it out helps.",
    "email": "What's your email? You can spell it out, like j o h n at gmail dot com.",
}
"""A second ask says it differently: the first wording did not work."""
_INTENT_ACK = {
    "buy": "Wonderful, I can help you find a place.",
    "sell": "Great, I can help you sell.",
    "rent": "Sure, I can help you find a rental.",
}
_ACKS = ("Got it.", "Great.", "Perfect.", "Thanks.")
_TYPE_WORDS = {"multi_family": "multi-family property", "mobile_home": "mobile home"}


@dataclass(frozen=True, slots=True)
class _Turn:
    """What the caller just said, and what the agent had asked before it."""

    text: str
    question: str


class ScriptedDialog:
    """The qualification flow as rules; see the module docstring."""

    name = "scripted"

    def __init__(self) -> None:
        us_place_names()  # the gazetteer loads once per process, here at start-up rather than on a call

    async def respond(self, context: DialogContext, tools: Sequence[ToolSpec]) -> AsyncIterator[DialogEvent]:
        for event in self.plan(context, tools):
            yield event

    def plan(self, context: DialogContext, tools_offered: Sequence[ToolSpec]) -> list[DialogEvent]:
        """The whole reply to the last message of ``context.history`` (pure)."""
        events = self._plan(context)
        allowed = {spec.name for spec in tools_offered}
        return [e for e in events if not isinstance(e, ToolCall) or e.name in allowed]

    def _plan(self, context: DialogContext) -> list[DialogEvent]:
        history = [m for m in context.history if m.role != "system"]
        if not history:
            return [TextDelta(_QUESTIONS["intent"][None])]
        if history[-1].role == "tool":
            return self._after_tool(history)
        if history[-1].role != "user":
            return [TextDelta("Sorry, could you say that again?")]
        turn = _last_turn(history)
        t = intents.normalize(turn.text)
        question = intents.normalize(turn.question)
        places = Places.with_service_areas(context.service_areas)
        found = qualification.extract(
            turn.text,
            expecting=qualification.expected_field(turn.question),
            intent=context.qualification.intent,
            places=places,
        )
        q = qualification.apply(context.qualification, found)
        call_id = f"scripted_{len(history)}"

        if intents.is_opt_out_request(t, bare_stop_counts=context.purpose == "marketing"):
            return _opt_out(call_id, turn.text)
        if _OPT_OUT_MARK in question and (intents.is_affirmative(t) or intents.is_possible_opt_out(t)):
            return _opt_out(call_id, f"{_caller_words_before(history)} (confirmed: {turn.text})")
        if intents.is_possible_opt_out(t):
            return [TextDelta(CONFIRM_OPT_OUT)]
        if _MESSAGE_MARK in question and not intents.is_negative(t):
            return [
                TextDelta(MESSAGE_TAKEN),
                ToolCall(f"{call_id}_message", tools.TAKE_MESSAGE, {"message": turn.text}),
            ]
        if intents.wants_human(t) or (
            "transfer you" in question and intents.is_affirmative(t) and "keep going" not in t
        ):
            return _transfer(context, call_id)
        if _CHECK_MARK in question and intents.is_negative(t) and not found:
            field_name = qualification.expected_field(turn.question) or "area"
            return [TextDelta(f"Sorry about that. {_question(field_name, q.intent)}")]
        if _OFFER_MARK in question or _CALLBACK_OFFER_MARK in question or _ASK_TIME_MARK in question:
            scheduled = self._schedule(context, turn, q, call_id)
            if scheduled is not None:
                return scheduled
        if _ANYTHING_ELSE_MARK in question and (intents.is_negative(t) or intents.is_goodbye(t)):
            return _goodbye(context, call_id, reason="completed")
        if intents.is_not_interested(t):
            return [
                TextDelta("No problem at all. Thanks for your time, and have a great day."),
                ToolCall(f"{call_id}_end", tools.END_CALL, {"reason": "not_interested"}),
            ]
        if intents.is_goodbye(t):
            return _goodbye(context, call_id, reason="completed")
        if _ANYTHING_ELSE_MARK in question:
            return [TextDelta(f"Your agent will be happy to help with that. Is there {_ANYTHING_ELSE}?")]
        if _unsure(history) and (checked := {f: found[f] for f in _CHECKED_FIELDS if f in found}):
            return [TextDelta(_check(checked))]
        return self._next_question(found, q, history, can_transfer=context.can_transfer)

    def _schedule(
        self, context: DialogContext, turn: _Turn, q: Qualification, call_id: str
    ) -> list[DialogEvent] | None:
        t = intents.normalize(turn.text)
        starts_at = parse_appointment_time(turn.text, now=context.now or utc_now(), timezone=context.timezone)
        if starts_at is not None:
            return [
                TextDelta("Let me book that for you."),
                ToolCall(
                    f"{call_id}_book",
                    tools.BOOK_APPOINTMENT,
                    {"starts_at": starts_at.isoformat(), "notes": _notes(q)},
                ),
            ]
        if any(word in t for word in ("transfer", "right now", "talk to", "speak to", "now please")):
            return _transfer(context, call_id)
        if any(word in t for word in ("book", "appointment", "schedule", "meet", "call me back", "later")) or (
            intents.is_affirmative(t)
        ):
            return [TextDelta("Of course. What day and time works best for you?")]
        if intents.is_negative(t) or intents.is_not_interested(t):
            return _goodbye(context, call_id, reason="completed")
        return None

    def _next_question(
        self, found: dict[str, Any], q: Qualification, history: list[Message], *, can_transfer: bool
    ) -> list[DialogEvent]:
        asked, declined = _asked_and_declined(history)
        ack = _acknowledge(found, q, len(history))
        for field_name in qualification.missing(q):
            if asked.get(field_name, 0) >= _MAX_ASKS or field_name in declined:
                continue
            if asked.get(field_name, 0) and not ack:
                return [TextDelta(f"Sorry, I didn't quite catch that. {_REPHRASED[field_name]}")]
            return [TextDelta(f"{ack} {_question(field_name, q.intent)}".strip())]
        name = f", {q.name.split()[0]}" if q.name else ""
        offer = _OFFER_MARK if can_transfer else _CALLBACK_OFFER_MARK
        return [
            TextDelta(
                f"{ack} Thanks{name}! I can book a time for you to meet with one of our agents, "
                f"{offer}. Which would you prefer?".strip()
            )
        ]

    def _after_tool(self, history: list[Message]) -> list[DialogEvent]:
        result = history[-1]
        name = _tool_name(history, result.tool_call_id)
        failed = result.content.startswith("error")
        if name == tools.BOOK_APPOINTMENT:
            if failed:
                return [TextDelta("I'm sorry, I couldn't book that time. What day and time works best for you?")]
            return [TextDelta(f"You're all set. {result.content} Is there anything else I can help you with?")]
        if name == tools.TRANSFER_TO_HUMAN:
            return [TextDelta(TRANSFER_UNAVAILABLE)]
        if name == tools.TAKE_MESSAGE:
            return [TextDelta(f"Is there {_ANYTHING_ELSE}?")]
        return [TextDelta("Is there anything else I can help you with?")]


def _last_turn(history: list[Message]) -> _Turn:
    """The caller's words since the agent last spoke (several messages if they spoke in pieces)."""
    i = len(history)
    while i > 0 and history[i - 1].role == "user":
        i -= 1
    text = " ".join(m.content for m in history[i:])
    question = next((m.content for m in reversed(history[:i]) if m.role == "assistant" and m.content), "")
    return _Turn(text=text, question=question)


def _caller_words_before(history: list[Message]) -> str:
    """What the caller said before the agent's last question (the words a confirmation is about)."""
    i = len(history)
    while i > 0 and history[i - 1].role == "user":
        i -= 1
    return _last_turn(history[: i - 1]).text if i > 1 else ""


def _asked_and_declined(history: list[Message]) -> tuple[dict[Field, int], set[Field]]:
    asked: dict[Field, int] = {}
    declined: set[Field] = set()
    for i, message in enumerate(history):
        if message.role != "assistant" or not message.content:
            continue
        field_name = qualification.expected_field(message.content)
        if field_name is None:
            continue
        asked[field_name] = asked.get(field_name, 0) + 1
        answer = next((m for m in history[i + 1 :] if m.role == "user"), None)
        if answer is not None and intents.is_decline(answer.content):
            declined.add(field_name)
    return asked, declined


def _question(field_name: Field, intent: str | None) -> str:
    options = _QUESTIONS[field_name]
    return options.get(intent, options[None])


def _acknowledge(found: dict[str, Any], q: Qualification, turn_number: int) -> str:
    """A short acknowledgement of what the caller just told us (nothing if they told us nothing)."""
    if not found:
        return ""
    if "intent" in found and q.intent:
        if "property_type" in found and "area" in found and q.property_type and q.area:
            what = _TYPE_WORDS.get(q.property_type, q.property_type)
            article = "An" if what[:1] in "aeiou" else "A"
            return f"{_INTENT_ACK[q.intent]} {article} {what} in {q.area}, got it."
        return _INTENT_ACK[q.intent]
    return _ACKS[turn_number % len(_ACKS)]


def _notes(q: Qualification) -> str:
    facts = q.as_dict()
    return "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in facts.items()) or "no details gathered"


def _unsure(history: list[Message]) -> bool:
    """The recognizer reported low confidence in the caller's last words."""
    confidence = history[-1].confidence
    return confidence is not None and confidence < _CONFIDENT


def _check(found: dict[Field, Any]) -> str:
    """Facts heard with low confidence, read back as a question ("Austin, and about 400,000, is that right?").

    The question names the field asked about first, so a "no" re-asks that one."""
    spoken = {
        "intent": f"you'd like to {found.get('intent')}",
        "area": f"in {found.get('area')}",
        "budget": f"about {found.get('budget', 0):,} dollars",
        "timeline": f"{found.get('timeline')}",
    }
    first = next(f for f in ("area", "budget", "timeline", "intent") if f in found)
    facts = ", ".join(spoken[f] for f in _CHECKED_FIELDS if f in found)
    hint = {"area": "which area", "budget": "your budget", "timeline": "your timeline", "intent": "buying or selling"}
    return f"Just to check {hint[first]}: {facts}, {_CHECK_MARK}?"


def _opt_out(call_id: str, said: str) -> list[DialogEvent]:
    return [
        TextDelta("Understood. I'll make sure you're not called again."),
        ToolCall(f"{call_id}_opt_out", tools.RECORD_OPT_OUT, {"how": said}),
    ]


def _transfer(context: DialogContext, call_id: str) -> list[DialogEvent]:
    if not context.can_transfer:
        return [TextDelta(TAKE_MESSAGE_OFFER)]
    return [
        TextDelta("Sure, let me connect you with one of our agents."),
        ToolCall(f"{call_id}_transfer", tools.TRANSFER_TO_HUMAN, {"reason": "caller asked for a person"}),
    ]


def _goodbye(context: DialogContext, call_id: str, *, reason: str) -> list[DialogEvent]:
    return [
        TextDelta(f"Thank you for calling {context.business_name}. Have a great day!"
                  if context.direction == "inbound" else "Thanks for your time. Have a great day!"),
        ToolCall(f"{call_id}_end", tools.END_CALL, {"reason": reason}),
    ]  # fmt: skip


def _tool_name(history: list[Message], tool_call_id: str | None) -> str | None:
    for message in reversed(history):
        for call in message.tool_calls:
            if call.id == tool_call_id:
                return call.name
    return None
