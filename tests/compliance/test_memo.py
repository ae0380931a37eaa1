"""The rule book's memo changes no decision: every answer equals the one computed without it."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar

from hypothesis import given

from compliance.consent import ConsentAction, ConsentEvent, ConsentKind
from compliance.context import _place, place_of
from compliance.decision import Decision
from compliance.errors import InvalidPhoneNumberError
from compliance.fact_store import _listing
from compliance.facts import NATIONAL_REGISTRY, Address, GateFacts, InternalDncEntry, RegistryListing
from compliance.gate import evaluate
from compliance.ledger import ledger_event
from compliance.memo import Memo
from compliance.phones import PhoneNumber, parse_phone
from compliance.rulebook import RuleBook
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind
from tests.compliance.test_gate_properties import PHONES, SETTINGS, STATES, gate_facts

P = ParamSpec("P")
T = TypeVar("T")

WARM = RuleBook.load()
"""One rule book whose memo fills up over every test of this module, as in a long-running process."""


class NoMemo(Memo):
    """Computes every answer afresh: the path without the memo."""

    def get(self, key: tuple[Hashable, ...], compute: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return compute(*args, **kwargs)


COLD = dataclasses.replace(WARM, memo=NoMemo())


def test_memo_computes_once_and_stays_bounded() -> None:
    memo = Memo(maxsize=2)
    calls: list[int] = []

    def compute(value: int) -> int:
        calls.append(value)
        return value * 10

    assert memo.get(("a", 1), compute, 1) == 10
    assert memo.get(("a", 1), compute, 1) == 10
    assert calls == [1]
    memo.get(("a", 2), compute, 2)
    memo.get(("a", 3), compute, 3)  # full: starts again empty
    assert len(memo) == 1
    assert memo.get(("a", 1), compute, 1) == 10
    assert calls == [1, 2, 3, 1]


@SETTINGS
@given(gate_facts())
def test_memoised_decision_equals_decision_without_memo(facts: GateFacts) -> None:
    assert _decide(facts, WARM) == _decide(facts, COLD)


def test_place_is_a_function_of_its_key_for_every_area_code() -> None:
    """The place's key reads the area code, the geographic flag and the number's zones: numbers of every area
    code and exchange, with and without addresses, get the place computed for their own number."""
    rng = random.Random(20261126)
    postal_codes = [None, "10001", "32501", "85001", "96801", "46201", "84101", "99501", "x"]
    numbers = [*PHONES]
    for area_code in range(200, 1000):
        for _ in range(4):
            numbers.append(f"+1{area_code}{rng.randrange(200, 1000):03d}{rng.randrange(10_000):04d}")
    for raw in numbers:
        phone = _parsed(raw)
        for _ in range(3):
            address = Address(state=rng.choice(STATES), postal_code=rng.choice(postal_codes))
            memoised = place_of(phone, address, WARM)
            assert memoised == _place(phone, address, WARM.geography, memoised.key), (raw, address)


def test_bench_like_batch_is_unchanged_by_the_memo() -> None:
    """Many numbers at one moment, as a campaign batch asks: the shape the memo is for."""
    rng = random.Random(7)
    at = datetime(2026, 11, 24, 16, tzinfo=UTC)
    for index in range(3000):
        phone = f"+1{rng.randrange(200, 1000)}{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"
        listed = rng.random() < 0.2
        facts = GateFacts(
            phone=phone,
            channel=Channel.VOICE if index % 3 else Channel.SMS,
            voice=VoiceKind.ARTIFICIAL if index % 3 == 1 else VoiceKind.LIVE if index % 3 == 2 else None,
            purpose=Purpose.MARKETING if index % 5 else Purpose.INFORMATIONAL,
            at=at + timedelta(hours=index % 7),
            address=Address(state=rng.choice(STATES)),
            registry_listings=(RegistryListing(NATIONAL_REGISTRY, listed, at.date() - timedelta(days=index % 40)),),
        )
        assert _decide(facts, WARM) == _decide(facts, COLD), facts


def test_situation_plans_are_keyed_by_everything_they_read() -> None:
    """Calls in one situation (place, kind of call, moment) that differ in what the plan's key reads of the
    called party: consent (which waives Utah's Sunday ban), earlier attempts (Florida's cap), an internal
    Do-Not-Call entry. In any order, a warm rule book answers each as one that computes everything afresh."""
    warm = RuleBook.load()
    cold = dataclasses.replace(warm, memo=NoMemo())
    monday, sunday = datetime(2026, 11, 23, 18, tzinfo=UTC), datetime(2026, 11, 22, 18, tzinfo=UTC)
    grid = []
    for phone in ("+12125550134", "+18505550134", "+18015550134", "+18125550134", "+14155550134"):
        for at in (monday, sunday):
            for consent in (None, ConsentKind.EXPRESS, ConsentKind.WRITTEN):
                events = () if consent is None else (
                    ConsentEvent(at=at - timedelta(days=9), action=ConsentAction.GRANT, kind=consent,
                                 channels=frozenset(ConsentChannel), purposes=frozenset(Purpose)),
                )  # fmt: skip
                for attempts in ((), tuple(at - timedelta(hours=h) for h in (1, 2, 3))):
                    for internal in (None, InternalDncEntry(at - timedelta(days=2))):
                        for channel, voice in ((Channel.VOICE, VoiceKind.ARTIFICIAL), (Channel.VOICE, VoiceKind.LIVE),
                                               (Channel.SMS, None)):
                            grid.append(GateFacts(
                                phone=phone, channel=channel, voice=voice, purpose=Purpose.MARKETING, at=at,
                                consent_events=events, internal_dnc=internal, recent_attempts=attempts,
                                registry_listings=(RegistryListing(NATIONAL_REGISTRY, False, at.date()),),
                            ))  # fmt: skip
    random.Random(5).shuffle(grid)
    decisions = [_decide(facts, warm) for facts in grid]
    assert {d.allowed for d in decisions} == {True, False}
    for facts, decision in zip(grid, decisions, strict=True):
        assert decision == _decide(facts, cold), facts


def _decide(facts: GateFacts, rulebook: RuleBook) -> Decision:
    return evaluate(facts, rulebook)


def _parsed(raw: str) -> PhoneNumber | None:
    try:
        return parse_phone(raw)
    except InvalidPhoneNumberError:
        return None


def test_shared_registry_listings_equal_fresh_ones() -> None:
    day = datetime(2026, 11, 24, tzinfo=UTC).date()
    for first in (None, day - timedelta(days=400)):
        shared = _listing(NATIONAL_REGISTRY, day, first)
        assert shared == RegistryListing(NATIONAL_REGISTRY, first is not None, day, first)
        assert _listing(NATIONAL_REGISTRY, day, first) is shared


def test_shared_consent_scopes_equal_fresh_ones() -> None:
    at = datetime(2026, 11, 24, tzinfo=UTC)
    for channels, purposes in ((["sms", "live_call"], ["marketing"]), (["artificial_voice_call"], ["informational"])):
        for _ in range(2):  # the second reading comes from the memo
            event = ledger_event(
                event_id="e", action="grant", kind="prior_express", channels=channels, purposes=purposes, occurred_at=at
            )
            assert event.channels == frozenset(ConsentChannel(c) for c in channels)
            assert event.purposes == frozenset(Purpose(p) for p in purposes)
