"""The rule book's memo changes no decision: every answer equals the one computed without it."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ParamSpec, TypeVar

from hypothesis import given

from compliance.consent import ConsentAction, ConsentEvent, ConsentKind
from compliance.context import _place, place_of
from compliance.decision import Decision
from compliance.ebr import BusinessRelationship
from compliance.errors import InvalidPhoneNumberError
from compliance.fact_store import _listing
from compliance.facts import (
    NATIONAL_REGISTRY,
    Address,
    GateFacts,
    InternalDncEntry,
    ReassignedNumberResult,
    ReassignedStatus,
    RegistryListing,
)
from compliance.gate import decision_key, evaluate
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


COLD = dataclasses.replace(WARM, memo=NoMemo(), decisions=NoMemo())


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
    cold = dataclasses.replace(warm, memo=NoMemo(), decisions=NoMemo())
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
                        for channel, voice in (
                            (Channel.VOICE, VoiceKind.ARTIFICIAL),
                            (Channel.VOICE, VoiceKind.LIVE),
                            (Channel.SMS, None),
                        ):
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


_AT = datetime(2026, 11, 23, 18, tzinfo=UTC)
_BASE = GateFacts(
    phone="+12125550134", channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING, at=_AT,
    address=Address(state="NY", postal_code="10001"),
    consent_events=(ConsentEvent(at=_AT - timedelta(days=9), action=ConsentAction.GRANT, kind=ConsentKind.WRITTEN,
                                 event_id="a"),),
    internal_dnc=InternalDncEntry(_AT - timedelta(days=2)),
    registry_listings=(RegistryListing(NATIONAL_REGISTRY, True, _AT.date()),),
    relationship=BusinessRelationship(_AT - timedelta(days=20), _AT - timedelta(days=200), _AT - timedelta(days=3)),
    recent_attempts=(_AT - timedelta(hours=2),),
    reassigned_number=ReassignedNumberResult(ReassignedStatus.NOT_DISCONNECTED, _AT.date() - timedelta(days=9)),
)  # fmt: skip
_EAST = timezone(timedelta(hours=-5))
# For each field of GateFacts but the phone (see below), variants a decision key must tell apart from _BASE.
_VARIANTS: dict[str, list[Any]] = {
    "channel": [Channel.SMS],
    "purpose": [Purpose.INFORMATIONAL],
    "at": [_AT + timedelta(minutes=1), _AT.astimezone(_EAST)],
    "voice": [VoiceKind.LIVE],
    "address": [Address(state="NJ", postal_code="10001"), Address(state="NY", postal_code="60601")],
    "consent_events": [
        (), (dataclasses.replace(_BASE.consent_events[0], kind=ConsentKind.EXPRESS),),
        (dataclasses.replace(_BASE.consent_events[0], at=_BASE.consent_events[0].at - timedelta(days=1)),),
        (dataclasses.replace(_BASE.consent_events[0], channels=frozenset({ConsentChannel.SMS})),),
        (dataclasses.replace(_BASE.consent_events[0], action=ConsentAction.REVOKE),),
        (*_BASE.consent_events, ConsentEvent(at=_AT - timedelta(days=1), action=ConsentAction.REVOKE)),
    ],
    "internal_dnc": [None, InternalDncEntry(_AT - timedelta(days=3)),
                     InternalDncEntry((_AT - timedelta(days=2)).astimezone(_EAST))],
    "registry_listings": [(), (dataclasses.replace(_BASE.registry_listings[0], listed=False),)],
    "relationship": [BusinessRelationship(), dataclasses.replace(_BASE.relationship, last_dnc_request_at=None),
                     dataclasses.replace(_BASE.relationship,
                                         last_inquiry_at=_AT.astimezone(_EAST) - timedelta(days=20))],
    "recent_attempts": [(), (_AT - timedelta(hours=3),), ((_AT - timedelta(hours=2)).astimezone(_EAST),)],
    "reassigned_number": [None, ReassignedNumberResult(ReassignedStatus.DISCONNECTED, _AT.date(), _AT.date())],
}  # fmt: skip


# Variants that leave what the rules read as it is for _BASE's call: the place (states, zones and their sources)
# and the consent in force, to the UTC day.
_SAME: dict[str, list[Any]] = {
    "address": [Address(state="NY", postal_code="10002"), Address(state="ny", postal_code="10001")],
    "consent_events": [
        (dataclasses.replace(_BASE.consent_events[0], event_id="b"),),
        (dataclasses.replace(_BASE.consent_events[0], at=_BASE.consent_events[0].at.astimezone(_EAST)),),
        (dataclasses.replace(_BASE.consent_events[0], at=_BASE.consent_events[0].at + timedelta(hours=3)),),
        (dataclasses.replace(_BASE.consent_events[0], purposes=frozenset({Purpose.MARKETING})),),
        (*_BASE.consent_events, ConsentEvent(at=_AT + timedelta(hours=1), action=ConsentAction.REVOKE)),  # later
    ],
}


def test_decision_keys_tell_apart_every_field_but_the_phone_and_what_the_rules_do_not_read_of_consent() -> None:
    """A whole decision is shared by facts with equal keys: the key must read every field of the facts (a field
    added to GateFacts fails here until the key reads it), each moment's zone, the content of the place and the
    consent in force for the call, to the day. Decisions under equal keys are equal, and equal to ones computed
    without the memo."""
    fields = {f.name for f in dataclasses.fields(GateFacts)} - {"phone", "opt_out_confirmation"}
    assert set(_VARIANTS) == fields  # opt-out confirmations are decided afresh, never from the memo
    base = decision_key(_BASE, parse_phone(_BASE.phone), WARM)
    for name, variants in _VARIANTS.items():
        for variant in variants:
            facts = dataclasses.replace(_BASE, **{name: variant})
            assert decision_key(facts, parse_phone(facts.phone), WARM) != base, (name, variant)
    _decide(_BASE, WARM)
    for name, variants in _SAME.items():
        for variant in variants:
            same = dataclasses.replace(_BASE, **{name: variant})
            assert decision_key(same, parse_phone(same.phone), WARM) == base, (name, variant)
            assert _decide(same, WARM) == _decide(same, COLD), (name, variant)


def test_numbers_share_a_decision_only_within_their_place() -> None:
    """Numbers whose places read alike share a key and a decision (one exchange, or area codes of one state and
    zone); another state, another zone prefix or a non-geographic number does not; a decision read from the memo
    equals one computed afresh."""
    same = ["+12125550134", "+12125559876", "+12125550000", "+17185550134", "+16465550134"]
    keys = {decision_key(dataclasses.replace(_BASE, phone=p), parse_phone(p), WARM) for p in same}
    assert len(keys) == 1
    others = ["+12015550134", "+18505550134", "+18125550134", "+18005550134"]
    for phone in others:
        assert decision_key(dataclasses.replace(_BASE, phone=phone), parse_phone(phone), WARM) not in keys, phone
    for phone in [*same, *others]:
        facts = dataclasses.replace(_BASE, phone=phone)
        assert _decide(facts, WARM) == _decide(facts, COLD), phone


def _decide(facts: GateFacts, rulebook: RuleBook) -> Decision:
    return evaluate(facts, rulebook)


def _parsed(raw: str) -> PhoneNumber | None:
    try:
        return parse_phone(raw)
    except InvalidPhoneNumberError:
        return None


def test_shared_registry_listings_equal_fresh_ones() -> None:
    day = datetime(2026, 11, 24, tzinfo=UTC).date()
    for listed in (False, True):
        shared = _listing(NATIONAL_REGISTRY, day, listed)
        assert shared == RegistryListing(NATIONAL_REGISTRY, listed, day)
        assert _listing(NATIONAL_REGISTRY, day, listed) is shared


def test_shared_consent_scopes_equal_fresh_ones() -> None:
    at = datetime(2026, 11, 24, tzinfo=UTC)
    for channels, purposes in ((["sms", "live_call"], ["marketing"]), (["artificial_voice_call"], ["informational"])):
        for _ in range(2):  # the second reading comes from the memo
            event = ledger_event(
                event_id="e", action="grant", kind="prior_express", channels=channels, purposes=purposes, occurred_at=at
            )
            assert event.channels == frozenset(ConsentChannel(c) for c in channels)
            assert event.purposes == frozenset(Purpose(p) for p in purposes)
