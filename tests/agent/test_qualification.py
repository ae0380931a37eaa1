from __future__ import annotations

from typing import Any

import pytest

from agent.interfaces import Qualification
from agent.qualification import Field, expected_field, extract, missing, update
from agent.spoken_numbers import words_to_digits


@pytest.mark.parametrize(
    ("utterance", "expecting", "expected"),
    [
        # the example, as written and as a recognizer writes it
        ("Hi, I want to sell my condo in Austin next spring", None,
         {"intent": "sell", "property_type": "condo", "area": "Austin", "timeline": "next spring"}),
        ("hi i want to sell my condo in austin next spring", None,
         {"intent": "sell", "property_type": "condo", "area": "Austin", "timeline": "next spring"}),
        # what the local recognizer made of it on a phone line
        ("i i want to show my condo i'm often next spring", None,
         {"intent": "sell", "property_type": "condo", "timeline": "next spring"}),
        # intent
        ("we're looking to buy our first home", None, {"intent": "buy"}),
        ("i'm not selling i want to buy a house in round rock texas", None,
         {"intent": "buy", "property_type": "house", "area": "Round Rock, Texas"}),
        ("we need to rent an apartment", None, {"intent": "rent", "property_type": "apartment"}),
        ("thinking about listing my townhouse", None, {"intent": "sell", "property_type": "townhouse"}),
        ("i'm interested in buying", None, {"intent": "buy"}),
        # budget and price
        ("around 450k", "budget", {"budget": 450_000}),
        ("four hundred fifty thousand", "budget", {"budget": 450_000}),
        ("$1.2 million", None, {"budget": 1_200_000}),
        ("one point two million dollars", None, {"budget": 1_200_000}),
        ("we're thinking four fifty", "budget", {"budget": 450_000}),
        ("somewhere between 400 and 500k", None, {"budget": 500_000}),
        ("my budget is $450,000", None, {"budget": 450_000}),
        ("half a million", "budget", {"budget": 500_000}),
        ("about two thousand a month", "budget", {"budget": 2_000}),
        ("around 450", "budget", {"budget": 450_000}),
        ("in about 2 months", None, {"timeline": "in about 2 months"}),
        ("i have 3 kids and 2 dogs", None, {}),
        # timeline
        ("as soon as possible", None, {"timeline": "asap"}),
        ("probably in a couple of months", None, {"timeline": "in a couple of months"}),
        ("by the end of the year", None, {"timeline": "by the end of the year"}),
        ("within six months", None, {"timeline": "within six months"}),
        ("we want to move around june", None, {"timeline": "around june"}),
        ("no rush really", "timeline", {"timeline": "flexible"}),
        # financing
        ("we've been pre approved", None, {"financing": "pre_approved"}),
        ("i'm not pre-approved yet", None, {"financing": "needs_financing"}),
        ("no not yet", "financing", {"financing": "needs_financing"}),
        ("yes", "financing", {"financing": "pre_approved"}),
        ("we'll be paying cash", None, {"financing": "cash"}),
        # name
        ("john smith", "name", {"name": "John Smith"}),
        ("yeah it's sarah connor", "name", {"name": "Sarah Connor"}),
        ("my name is maria garcia", None, {"name": "Maria Garcia"}),
        ("this is dave from austin", None, {"name": "Dave", "area": "Austin"}),
        ("i'm looking for a condo", "name", {"intent": "buy", "property_type": "condo"}),
        # email
        ("john dot smith at gmail dot com", "email", {"email": "john.smith@gmail.com"}),
        ("it's j o h n at example dot com", "email", {"email": "john@example.com"}),
        ("jane.doe@example.com", None, {"email": "jane.doe@example.com"}),
        # area
        ("austin", "area", {"area": "Austin"}),
        ("downtown dallas", "area", {"area": "Downtown Dallas"}),
        ("zip code 78701", None, {"area": "78701"}),
        ("somewhere near san antonio", None, {"area": "San Antonio"}),
        # a refusal is not an answer
        ("i'd rather not say", "budget", {}),
    ],
)  # fmt: skip
def test_extraction(utterance: str, expecting: Field | None, expected: dict[str, Any]) -> None:
    assert extract(utterance, expecting=expecting) == expected


def test_renters_budgets_are_monthly() -> None:
    assert extract("around 2500", expecting="budget", intent="rent") == {"budget": 2500}


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("Are you looking to buy, sell, or rent?", "intent"),
        ("Where is the property you're selling?", "area"),
        ("What area are you looking to buy in?", "area"),
        ("What kind of property are you looking for: a house, a condo, or a townhouse?", "property_type"),
        ("Great, a condo in Austin. What's your timeline for selling?", "timeline"),
        ("Do you have a price in mind for the property?", "budget"),
        ("What's your monthly budget?", "budget"),
        ("Have you been pre-approved for a mortgage yet, or will you be paying cash?", "financing"),
        ("May I have your name, please?", "name"),
        ("And what's the best email address to reach you?", "email"),
        ("Thanks! Which would you prefer?", None),
    ],
)
def test_expected_field_from_the_agents_question(question: str, field: Field | None) -> None:
    assert expected_field(question) == field


def test_update_uses_the_question_and_keeps_what_was_known() -> None:
    q = Qualification(intent="buy", area="Austin")
    q2 = update(q, "pretty much five hundred", last_question="What price range are you considering?")
    assert q2 == Qualification(intent="buy", area="Austin", budget=500_000)
    assert q.budget is None  # the original is untouched


def test_newer_statements_win() -> None:
    q = update(Qualification(area="Austin"), "actually we're looking in dallas now")
    assert q.area == "Dallas"


def test_missing_fields_in_asking_order() -> None:
    assert missing(Qualification()) == ["intent", "area", "property_type", "timeline", "budget", "name", "email"]
    assert missing(Qualification(intent="buy")) == [
        "area", "property_type", "timeline", "budget", "financing", "name", "email",
    ]  # fmt: skip
    assert "financing" not in missing(Qualification(intent="sell"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("around four hundred fifty thousand", "around 450000"),
        ("$1.2 million", "$1200000"),
        ("one point two million dollars", "1200000 dollars"),
        ("half a million", "500000"),
        ("a million bucks", "1000000 bucks"),
        ("twenty five hundred a month", "2500 a month"),
        ("two hundred and fifty thousand", "250000"),
        ("one and a half million", "1500000"),
        ("a hundred and ten thousand", "110000"),
        ("forty-five minutes", "45 minutes"),
        ("five five five one two", "5 5 5 1 2"),
        ("I'm looking at a house and a condo", "I'm looking at a house and a condo"),
        ("$450,000 is fine", "$450,000 is fine"),
        ("Fourteen Oak St.", "14 Oak St."),
    ],
)
def test_number_words(text: str, expected: str) -> None:
    assert words_to_digits(text) == expected
