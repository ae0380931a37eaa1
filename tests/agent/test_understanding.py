"""Understanding that survives recognition errors: amounts, places, rooms, loans, spelled names and emails,
and opt-outs, in the forms a phone recognizer writes them (lowercase, unpunctuated, words for numbers)."""

from __future__ import annotations

import pytest

from agent.intents import is_opt_out_request, is_possible_opt_out
from agent.interfaces import Qualification
from agent.places import Places
from agent.qualification import Field, extract, is_qualified


@pytest.mark.parametrize(
    ("said", "expecting", "budget"),
    [
        ("six hundred K", None, 600_000),
        ("six hundred k", "budget", 600_000),
        ("four fifty", "budget", 450_000),
        ("um around four fifty", "budget", 450_000),
        ("one point two million", None, 1_200_000),
        ("like one point two million dollars", "budget", 1_200_000),
        ("$400k", None, 400_000),
        ("$400,000", None, 400_000),
        ("400,000", None, 400_000),
        ("around four hundred thousand", None, 400_000),
        ("Around four hundred thousand", "budget", 400_000),
        ("four hundred and fifty thousand", None, 450_000),
        ("half a million", None, 500_000),
        ("about three fifty k", None, 350_000),
        ("five hundred grand", None, 500_000),
        ("maybe 1.2 mil", None, 1_200_000),
        ("between four and five hundred thousand", None, 500_000),
    ],
)
def test_amounts_in_every_spoken_form(said: str, expecting: Field | None, budget: int) -> None:
    assert extract(said, expecting=expecting).get("budget") == budget


@pytest.mark.parametrize(
    ("said", "budget"),
    [("two thousand a month", 2_000), ("twenty five hundred a month", 2_500), ("about 1800 per month", 1_800)],
)
def test_monthly_rent_is_not_scaled_to_a_home_price(said: str, budget: int) -> None:
    assert extract(said, intent="rent").get("budget") == budget
    assert extract(said).get("budget") == budget


@pytest.mark.parametrize(
    "said",
    ["i have three kids", "we moved here in 2019", "my zip is 78701", "three bedrooms", "call me at five pm"],
)
def test_numbers_that_are_not_money_are_left_alone(said: str) -> None:
    assert "budget" not in extract(said)


@pytest.mark.parametrize(
    ("said", "expecting", "area"),
    [
        ("Hi, I want to sell my condo in Austin next spring", None, "Austin"),
        ("somewhere near san antonio", None, "San Antonio"),
        ("in saint paul", None, "Saint Paul"),
        ("austin", "area", "Austin"),
        ("downtown dallas", "area", "Downtown Dallas"),
        ("round rock texas", "area", "Round Rock, Texas"),
        ("uh probably pflugerville", "area", "Pflugerville"),
        ("we're looking around travis county", None, "Travis County"),
    ],
)
def test_places_come_from_the_gazetteer(said: str, expecting: Field | None, area: str) -> None:
    assert extract(said, expecting=expecting).get("area") == area


@pytest.mark.parametrize(
    ("said", "expecting"),
    [
        # what a recognizer made of "in Austin": stored as area "Off" before
        ("i wanna show my condo in off the next spring", None),
        ("i want to buy in a hurry", None),
        ("something with a big yard", "area"),
        ("in the end we decided to sell", None),
    ],
)
def test_words_that_are_no_place_are_not_an_area(said: str, expecting: Field | None) -> None:
    assert "area" not in extract(said, expecting=expecting)


def test_service_areas_are_understood_even_misheard() -> None:
    places = Places.with_service_areas(["Zilker", "Travis Heights", "Mueller"])
    assert extract("we love travis heights", places=places)["area"] == "Travis Heights"
    assert extract("something in zilker maybe", places=places)["area"] == "Zilker"
    assert extract("mueler", expecting="area", places=places)["area"] == "Mueller"  # one letter dropped
    assert "area" not in extract("in zilker", places=Places.with_service_areas())


@pytest.mark.parametrize(
    ("said", "found"),
    [
        ("three bedrooms two baths", {"bedrooms": 3, "bathrooms": 2.0}),
        ("a 4 bed 3 bath house", {"bedrooms": 4, "bathrooms": 3.0, "property_type": "house"}),
        ("two bedroom condo with two and a half baths", {"bedrooms": 2, "bathrooms": 2.5, "property_type": "condo"}),
    ],
)
def test_bedrooms_and_bathrooms(said: str, found: dict[str, object]) -> None:
    assert extract(said) == found


@pytest.mark.parametrize(
    ("said", "expecting", "financing"),
    [
        ("we're pre-approved", None, "pre_approved"),
        ("pre approved for an fha loan", None, "pre_approved"),
        ("we'd use an fha loan", None, "fha_loan"),
        ("f h a probably", None, "fha_loan"),
        ("i'm a veteran so a va loan", None, "va_loan"),
        ("paying cash", None, "cash"),
        ("we haven't been pre-approved yet", None, "needs_financing"),
        ("yes", "financing", "pre_approved"),
    ],
)
def test_financing(said: str, expecting: Field | None, financing: str) -> None:
    assert extract(said, expecting=expecting).get("financing") == financing


@pytest.mark.parametrize(
    ("said", "expecting", "name"),
    [
        ("S M I T H", "name", "Smith"),
        ("s. m. i. t. h.", "name", "Smith"),
        ("john S-M-I-T-H", "name", "John Smith"),
        ("my name is john smith, s m i t h", None, "John Smith"),
        ("it's jane doe spelled d o e", "name", "Jane Doe"),
        ("maria garcia", "name", "Maria Garcia"),
    ],
)
def test_spelled_names(said: str, expecting: Field | None, name: str) -> None:
    assert extract(said, expecting=expecting).get("name") == name


@pytest.mark.parametrize(
    ("said", "expecting", "email"),
    [
        ("john dot smith at gmail dot com", None, "john.smith@gmail.com"),
        ("john dot smith at g mail com", "email", "john.smith@gmail.com"),
        ("j o h n at yahoo dot com", "email", "john@yahoo.com"),
        ("it's jane underscore doe at outlook dot com", "email", "jane_doe@outlook.com"),
        ("jdoe@example.com", None, "jdoe@example.com"),
    ],
)
def test_spoken_emails(said: str, expecting: Field | None, email: str) -> None:
    assert extract(said, expecting=expecting).get("email") == email


@pytest.mark.parametrize(
    "said",
    [
        "take me off your list",
        "don't call me again",
        "remove my number",
        "unsubscribe",
        "stop calling me",
        "Put me on your do not call list.",
        "I'm not interested, never call again",
        "Please stop calling me and take me off your list",
        "I don't want any more calls",
        "i want to be removed from your list",
        "please don't call this number anymore",
        "take my name off the mailing list",
        "stop the calls",
        "could you delete my number",
        "add me to the do not call list",
        "don't stop, just take me off your list",
    ],
)
def test_opt_outs_in_many_phrasings(said: str) -> None:
    assert is_opt_out_request(said)


@pytest.mark.parametrize(
    "said",
    [
        "don't stop",
        "don't stop calling me, i'm interested",
        "I'm not interested in condos",
        "i want to list my house",
        "what's the list price",
        "i was told not to remove the carpet",
        "we stopped by the open house",
        "we removed the old carpet last year",
        "we're taking it off the market",
    ],
)
def test_no_opt_out_where_there_is_none(said: str) -> None:
    assert not is_opt_out_request(said) and not is_possible_opt_out(said)


@pytest.mark.parametrize(
    "said",
    ["don't call me at work", "don't call me before noon", "no more calling", "off the list", "remove my uh"],
)
def test_unclear_opt_outs_are_possible_not_certain(said: str) -> None:
    assert not is_opt_out_request(said) and is_possible_opt_out(said)


def test_qualified_needs_intent_area_and_budget_or_timeline() -> None:
    assert not is_qualified(Qualification(intent="sell", area="Austin", property_type="condo"))
    assert not is_qualified(Qualification(intent="sell", budget=400_000, timeline="spring"))
    assert is_qualified(Qualification(intent="sell", area="Austin", timeline="next spring"))
    assert is_qualified(Qualification(intent="buy", area="Austin", budget=400_000))
