"""The scripted callers of ``seiketsu bench conversation``: what each says, and what the call should store.

Text only: the audio is synthesized at run time (espeak-ng voices, the Piper voice, sox noise). ``slots`` are
the qualification the stored call should hold once the conversation is over; ``opt_out`` that the caller
asked not to be called again (the call's outcome must be ``opted_out``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SERVICE_AREAS = ("Austin", "Round Rock", "Pflugerville", "Cedar Park", "Georgetown", "Leander")
"""The bench brokerage's market (its ``serviceAreas`` setting)."""


@dataclass(frozen=True, slots=True)
class Conversation:
    name: str
    lines: tuple[str, ...]
    slots: dict[str, Any] = field(default_factory=dict)
    opt_out: bool = False


CONVERSATIONS = (
    Conversation(
        "seller-condo",
        (
            "Hi, I want to sell my condo in Austin next spring.",
            "Around four hundred thousand.",
            "It has two bedrooms and two bathrooms.",
            "My name is Maria Lopez.",
        ),
        {"intent": "sell", "area": "Austin", "property_type": "condo", "timeline": "spring", "budget": 400_000},
    ),
    Conversation(
        "buyer-preapproved",
        (
            "Hello, we are looking to buy a house in Round Rock.",
            "We are pre-approved for about six hundred fifty thousand.",
            "Probably in the next three months.",
            "Three bedrooms would be ideal.",
        ),
        {
            "intent": "buy",
            "area": "Round Rock",
            "property_type": "house",
            "budget": 650_000,
            "financing": "pre_approved",
            "timeline": "3 months",
        },
    ),
    Conversation(
        "renter-apartment",
        (
            "I'm calling about renting an apartment in Austin.",
            "My budget is two thousand a month.",
            "We need to move in by August.",
            "My name is James Carter.",
        ),
        {"intent": "rent", "area": "Austin", "property_type": "apartment", "budget": 2000, "timeline": "august"},
    ),
    Conversation(
        "investor-cash",
        (
            "I'm an investor looking for duplexes in Pflugerville.",
            "I would be paying cash.",
            "Anything under five hundred thousand.",
            "Sometime this year.",
        ),
        {"intent": "buy", "area": "Pflugerville", "financing": "cash", "budget": 500_000, "timeline": "this year"},
    ),
    Conversation("opt-out-direct", ("Hello?", "Please stop calling me and take me off your list."), opt_out=True),
    Conversation("opt-out-not-interested", ("Who is this?", "I'm not interested. Don't call me again."), opt_out=True),
    Conversation("opt-out-remove", ("Yes, this is Robert.", "Remove my number from your list, please."), opt_out=True),
    Conversation(
        "human-request",
        (
            "Can I talk to a real person?",
            "I want to sell my townhouse in Cedar Park.",
            "Sometime next year.",
            "About three hundred thousand.",
        ),
        {"intent": "sell", "area": "Cedar Park", "property_type": "townhouse", "timeline": "next year"},
    ),
    Conversation(
        "appointment",
        (
            "I'd like to buy a house in Georgetown.",
            "Can we meet Tuesday afternoon at three?",
            "Yes, that works.",
            "My name is David Kim.",
        ),
        {"intent": "buy", "area": "Georgetown", "property_type": "house"},
    ),
    Conversation(
        "seller-house-summer",
        (
            "We are thinking about selling our house in Leander.",
            "We hope to get around five hundred fifty thousand.",
            "We would like to list it this summer.",
            "It's a four bedroom home.",
        ),
        {"intent": "sell", "area": "Leander", "property_type": "house", "budget": 550_000, "timeline": "summer"},
    ),
    Conversation(
        "first-time-buyer",
        (
            "I want to buy my first home.",
            "Somewhere in Round Rock.",
            "I'm pre-approved for three hundred thousand.",
            "Within six months.",
        ),
        {"intent": "buy", "area": "Round Rock", "budget": 300_000, "financing": "pre_approved", "timeline": "6 months"},
    ),
    Conversation(
        "renter-townhouse",
        (
            "Hi, do you have townhouses for rent in Cedar Park?",
            "Up to twenty five hundred a month.",
            "We need it next month.",
            "My name is Sam Patel.",
        ),
        {
            "intent": "rent",
            "area": "Cedar Park",
            "property_type": "townhouse",
            "budget": 2500,
            "timeline": "next month",
        },
    ),
    Conversation(
        "buyer-condo-four-fifty",
        (
            "I'm looking to buy a condo in downtown Austin.",
            "My budget is four fifty.",
            "I'm already pre-approved.",
            "In the spring.",
        ),
        {
            "intent": "buy",
            "area": "Austin",
            "property_type": "condo",
            "budget": 450_000,
            "financing": "pre_approved",
            "timeline": "spring",
        },
    ),
    Conversation(
        "seller-later",
        (
            "I might sell my home in Georgetown.",
            "Not for another year or so.",
            "It's worth about seven hundred thousand.",
            "No thanks, that's all for now.",
        ),
        {"intent": "sell", "area": "Georgetown", "budget": 700_000, "timeline": "year"},
    ),
)
