from __future__ import annotations

import pytest

from compliance.sms_keywords import SmsIntent, classify_sms, explain_sms

OPT_OUT = [
    "STOP", "stop", "Stop.", "STOP!!!", "Stop please", "please stop", "STOP STOP STOP", "stop now", "stop it",
    "STOPALL", "stop all", "UNSUBSCRIBE", "unsubscribe me", "CANCEL", "End", "QUIT", "quit it", "REVOKE",
    "OPTOUT", "opt out", "Opt-Out", "ＳＴＯＰ",
    "please stop texting me", "Stop texting me!", "stop sending me these messages", "quit calling me",
    "stop the calls", "Why won't you stop calling me?", "don't call me again", "Do not text this number",
    "never contact me again", "remove me from your list", "Please remove my number", "take me off your list",
    "I want to opt out", "opt me out please", "I want to opt out of these texts", "How do I unsubscribe?",
    "leave me alone", "lose my number", "no more texts please", "I don't want any more calls", "wrong number",
    "Sorry, wrong number", "put me on your do not call list", "I revoke my consent", "go away", "Who is this? STOP",
    "Not interested", "I'm not interested thanks", "stop calling me, text instead",
]  # fmt: skip

OTHER = [
    "I can't stop thinking about that house", "Can I stop by the house at 5?", "Don't stop sending me listings!",
    "What time does the open house end?", "Cancel my 3pm showing", "help me find a house", "ok thanks",
    "Yes, I'm interested", "The seller wants to opt out of the contract", "We should end up near the school",
    "I'm not interested in the condo but do you have a townhouse near the lake with a yard?",
    "I cant stop texting my mom about this house", "Please call me back", "", "   ", "s t o p",
    "Is the stop sign at the corner a problem?", "Quite nice!", "Ending soon?",
]  # fmt: skip


@pytest.mark.parametrize("text", OPT_OUT)
def test_opt_out(text: str) -> None:
    assert classify_sms(text) is SmsIntent.OPT_OUT, explain_sms(text)


@pytest.mark.parametrize("text", OTHER)
def test_other(text: str) -> None:
    assert classify_sms(text) is SmsIntent.OTHER, explain_sms(text)


@pytest.mark.parametrize("text", ["START", "start", "Unstop", "YES", "yes please", "Yes!"])
def test_opt_in(text: str) -> None:
    assert classify_sms(text) is SmsIntent.OPT_IN


@pytest.mark.parametrize("text", ["HELP", "help?", "Info", "help please"])
def test_help(text: str) -> None:
    assert classify_sms(text) is SmsIntent.HELP


def test_explanation_names_the_matching_rule() -> None:
    assert explain_sms("please stop texting me").reason == "free-text opt-out: stop + contact word"
    assert explain_sms("STOP").reason == "keyword message: STOP"
