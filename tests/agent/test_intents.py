from __future__ import annotations

import pytest

from agent import intents


@pytest.mark.parametrize(
    "text",
    [
        "stop calling me",
        "Please take me off your list.",
        "do not call this number again",
        "don't call me anymore",
        "remove my number",
        "put me on your do not call list",
        "I want to opt out",
        "unsubscribe",
        "Stop.",
    ],
)
def test_opt_out_requests(text: str) -> None:
    assert intents.is_opt_out_request(text)


@pytest.mark.parametrize("text", ["i want to stop renting and buy", "can you call me tomorrow", "stop by the office"])
def test_not_opt_out(text: str) -> None:
    assert not intents.is_opt_out_request(text)


def test_bare_stop_counts_only_where_offered() -> None:
    assert not intents.is_opt_out_request("uh stop it")
    assert intents.is_opt_out_request("uh stop it", bare_stop_counts=True)
    assert not intents.is_opt_out_request(
        "we want to stop paying rent and buy a house in the suburbs next year", bare_stop_counts=True
    )


@pytest.mark.parametrize(
    "text", ["can i talk to a real person", "Transfer me please", "I'd like to speak with an agent", "a human being"]
)
def test_wants_human(text: str) -> None:
    assert intents.wants_human(text)


def test_plain_mentions_of_agents_are_not_transfer_requests() -> None:
    assert not intents.wants_human("do you have agents in dallas")


@pytest.mark.parametrize(
    ("text", "affirmative", "negative"),
    [("yes please", True, False), ("Yeah, sure.", True, False), ("no thanks", False, True), ("not yet", False, True),
     ("maybe", False, False)],
)  # fmt: skip
def test_yes_and_no(text: str, affirmative: bool, negative: bool) -> None:
    assert intents.is_affirmative(text) is affirmative
    assert intents.is_negative(text) is negative


def test_goodbye_not_interested_decline_backchannel() -> None:
    assert intents.is_goodbye("ok that's all, bye")
    assert intents.is_not_interested("sorry wrong number")
    assert intents.is_decline("i'd rather not say")
    assert intents.is_backchannel("uh-huh")
    assert not intents.is_backchannel("uh-huh and we also want a pool")
