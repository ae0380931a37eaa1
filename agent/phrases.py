"""The sentences the agent says on its own, whatever dialog is in use: greeting, disclosures, apologies,
transfer and opt-out lines.

Kept in one place because several are compliance duties (identification of the business, a callback number,
the interactive opt-out offer on marketing calls) and because the fixed ones are worth synthesizing once and
caching (:mod:`agent.greeting`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

OPT_OUT_OFFER = "If you'd like us to stop calling, say stop or press 9 at any time."
APOLOGY_OFFER_TRANSFER = (
    "I'm sorry, I'm having a little trouble on my end. I can transfer you to one of our agents, "
    "or we can keep going. Would you like me to transfer you?"
)
DID_NOT_CATCH = "I'm sorry, I didn't catch that. Could you say it again?"
TRANSFERRING = "Sure, I'm connecting you with one of our agents now. One moment, please."
TRANSFER_UNAVAILABLE = (
    "I'm sorry, no one is available to take your call right now. I can book a time for an agent to call "
    "you back instead. What day and time works for you?"
)
TAKE_MESSAGE_OFFER = (
    "I'm sorry, no one can take your call right now, but I can have an agent call you back. "
    "What would you like me to pass along?"
)
"""Said instead of a transfer when the organization has no human number: a callback is all we can promise."""
MESSAGE_TAKEN = "Thanks, I'll pass that along, and an agent will call you back at this number."
CONFIRM_OPT_OUT = "Just to be sure, would you like me to take your number off our call list?"
OPT_OUT_CONFIRMED = (
    "Understood. I've removed your number from our call list, and you won't hear from us again. Goodbye."
)
STILL_THERE = "Are you still there?"
HOLD = "Just a moment."
"""Said from the cache when the reply is late, so that the caller is never left in silence."""
GOODBYE_NO_RESPONSE = "I'll let you go for now. Feel free to call us back anytime. Goodbye."


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the agent speaks for, and what it must say about itself."""

    business_name: str
    agent_name: str = "Ava"
    callback_number: str | None = None
    """E.164 number that accepts Do-Not-Call requests; read out on calls we place when identification is
    required (47 CFR 64.1200(b)(2)), not on calls we receive: the caller just dialled it."""


def greeting_text(
    identity: Identity,
    *,
    direction: Literal["inbound", "outbound"],
    identify: bool,
    offer_opt_out: bool,
) -> str:
    """The first thing the caller hears: the brokerage's name and that they are talking to an AI assistant.

    Inbound it is only that and a question (about four seconds of audio: callers hang up on long greetings).
    On calls we place, ``identify`` adds the callback number (artificial-voice identification duty) and
    ``offer_opt_out`` the interactive opt-out right after it (outbound marketing calls).
    """
    name, business = identity.agent_name, identity.business_name
    if direction == "inbound":
        return f"{business}, I'm {name}, an AI assistant, how can I help?"  # one sentence: no pause inside
    parts = [f"Hi, this is {name}, an AI assistant calling on behalf of {business}."]
    if identify and identity.callback_number:
        parts.append(f"You can reach us at {speakable_phone_number(identity.callback_number)}.")
    if offer_opt_out:
        parts.append(OPT_OUT_OFFER)
    parts.append("Are you still looking to buy, sell, or rent a home?")
    return " ".join(parts)


def cacheable_phrases(
    identity: Identity,
    *,
    direction: Literal["inbound", "outbound"],
    identify: bool,
    offer_opt_out: bool,
) -> list[str]:
    """Every fixed sentence a call may say, greeting first: warm these into the greeting cache at start-up
    (per organization and voice) so they play without synthesis delay."""
    greeting = greeting_text(identity, direction=direction, identify=identify, offer_opt_out=offer_opt_out)
    return [
        greeting,
        APOLOGY_OFFER_TRANSFER,
        DID_NOT_CATCH,
        TRANSFERRING,
        TRANSFER_UNAVAILABLE,
        TAKE_MESSAGE_OFFER,
        MESSAGE_TAKEN,
        CONFIRM_OPT_OUT,
        OPT_OUT_CONFIRMED,
        STILL_THERE,
        GOODBYE_NO_RESPONSE,
        HOLD,
    ]


def speakable_phone_number(number: str) -> str:
    """Digits grouped the way people read them aloud: "+15125550123" -> "5 1 2, 5 5 5, 0 1 2 3"."""
    digits = re.sub(r"\D", "", number)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10:
        groups = [digits[:3], digits[3:6], digits[6:]]
    else:
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return ", ".join(" ".join(group) for group in groups)
