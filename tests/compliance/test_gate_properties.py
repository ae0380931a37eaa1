"""Property tests: mandatory rules stated independently of the gate's code must never be overridden, and the
order of ledger events must not matter."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phonenumbers_timezone

from compliance.consent import ConsentAction, ConsentEvent, ConsentKind
from compliance.decision import Decision, Verdict
from compliance.ebr import BusinessRelationship
from compliance.facts import (
    NATIONAL_REGISTRY,
    Address,
    GateFacts,
    InternalDncEntry,
    OptOutConfirmation,
    RegistryListing,
    state_registry,
)
from compliance.gate import evaluate
from compliance.rulebook import RuleBook
from compliance.rules import CallingWindowRule, FrequencyCapRule
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind, consent_channel_for

PHONES = [
    "+12125550134", "+18505550134", "+18504330134", "+18125550134", "+14235550134", "+17015550134",
    "+19285550134", "+16025550134", "+18085550134", "+19075550134", "+13055550134", "+12145550134",
    "+15045550134", "+12055550134", "+14015550134", "+18015550134", "+16015550134", "+14155550134",
    "+14055550134", "+14105550134", "+12035550134", "+15025550134", "+12155550134", "+12065550134",
    "+14165550134", "+18005550134", "+1555", "not a number",
]  # fmt: skip
STATES = [None, "NY", "FL", "TX", "CA", "AZ", "AK", "HI", "IN", "UT", "ZZ"]
START = datetime(2024, 1, 1, tzinfo=UTC)
RULEBOOK = RuleBook.load()
TIME_RULES = {
    rule.meta.rule_id
    for rules in RULEBOOK.by_jurisdiction.values()
    for rule in rules
    if isinstance(rule, CallingWindowRule | FrequencyCapRule)
}
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

instants = st.integers(min_value=0, max_value=3 * 365 * 24 * 60).map(lambda m: START + timedelta(minutes=m))
consent_events = st.builds(
    ConsentEvent,
    at=st.integers(min_value=0, max_value=40).map(lambda d: START + timedelta(days=d * 20)),
    action=st.sampled_from(ConsentAction),
    kind=st.sampled_from(ConsentKind),
    channels=st.frozensets(st.sampled_from(ConsentChannel), min_size=1),
    purposes=st.frozensets(st.sampled_from(Purpose), min_size=1),
    event_id=st.sampled_from(["", "a", "b"]),
)


@st.composite
def gate_facts(draw: st.DrawFn) -> GateFacts:
    at = draw(instants)
    channel = draw(st.sampled_from(Channel))
    registries = [NATIONAL_REGISTRY, *(state_registry(s) for s in ("FL", "TX", "LA", "MS", "AL", "KY", "PA", "IN"))]
    listings = tuple(
        RegistryListing(
            registry=registry,
            listed=draw(st.booleans()),
            copy_as_of=at.date() - timedelta(days=draw(st.integers(0, 60))),
        )
        for registry in registries
        if draw(st.integers(0, 9)) > 0
    )
    return GateFacts(
        phone=draw(st.sampled_from(PHONES)),
        channel=channel,
        voice=draw(st.sampled_from(VoiceKind)) if channel is Channel.VOICE else draw(st.none()),
        purpose=draw(st.sampled_from(Purpose)),
        at=at,
        address=Address(state=draw(st.sampled_from(STATES))),
        consent_events=tuple(draw(st.lists(consent_events, max_size=5))),
        internal_dnc=draw(st.none() | st.just(InternalDncEntry(at - timedelta(days=1)))),
        registry_listings=listings,
        relationship=draw(
            st.just(BusinessRelationship())
            | st.builds(BusinessRelationship, last_inquiry_at=st.just(at - timedelta(days=30)))
        ),
        recent_attempts=tuple(at - timedelta(hours=h) for h in draw(st.lists(st.integers(1, 30), max_size=4))),
        opt_out_confirmation=draw(st.none() | st.just(OptOutConfirmation(at - timedelta(minutes=2)))),
    )


def written_consent_in_force(facts: GateFacts) -> bool:
    """Some written grant covering the call, at or before it, with no revocation covering it since."""
    scope = consent_channel_for(facts.channel, facts.voice)
    covering = [e for e in facts.consent_events if scope in e.channels and facts.purpose in e.purposes]
    return any(
        g.action is ConsentAction.GRANT
        and g.kind is ConsentKind.WRITTEN
        and g.at <= facts.at
        and not any(r.action is ConsentAction.REVOKE and g.at <= r.at <= facts.at for r in covering)
        for g in covering
    )


def mandatory_violations(facts: GateFacts) -> list[str]:
    """Conditions under which no call or text may go, stated without the gate's code."""
    if facts.opt_out_confirmation is not None and facts.channel is Channel.SMS:
        if facts.purpose is Purpose.INFORMATIONAL:
            return []  # the one permitted confirmation text
    violations = []
    try:
        number = phonenumbers.parse(facts.phone)
        valid = phonenumbers.is_valid_number(number)
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        return ["invalid number"]
    if phonenumbers.region_code_for_number(number) != "US":
        violations.append("outside the US")
    if facts.internal_dnc is not None:
        violations.append("internal DNC")
    artificial_or_text = facts.channel is Channel.SMS or facts.voice is VoiceKind.ARTIFICIAL
    marketing = facts.purpose is Purpose.MARKETING
    if artificial_or_text and marketing and not written_consent_in_force(facts):
        violations.append("no written consent")
    # A non-geographic (toll-free) number names no zone of its own: the gate goes by the address, or blocks.
    zones = phonenumbers_timezone.time_zones_for_number(number) if phonenumbers.is_number_geographical(number) else ()
    for zone in zones:
        if zone != "Etc/Unknown" and not 8 <= facts.at.astimezone(ZoneInfo(zone)).hour < 21:
            violations.append(f"outside 8-21 in {zone}")
    national = [r for r in facts.registry_listings if r.registry == NATIONAL_REGISTRY]
    live_with_ebr = facts.voice is VoiceKind.LIVE and facts.relationship.last_inquiry_at is not None
    if marketing and not live_with_ebr:
        if not national:
            violations.append("no registry copy")
        elif any(r.listed for r in national) and not written_consent_in_force(facts):
            violations.append("on the national registry")
        elif not any(r.listed for r in national) and (facts.at.date() - national[0].copy_as_of).days > 31:
            violations.append("stale registry copy")
    return violations


@SETTINGS
@given(gate_facts())
def test_no_allowed_decision_violates_a_mandatory_rule(facts: GateFacts) -> None:
    decision = evaluate(facts, RULEBOOK)
    violations = mandatory_violations(facts)
    if violations:
        assert not decision.allowed, (violations, decision.checks)
    if decision.allowed:
        assert all(c.result in (Verdict.PASS, Verdict.SKIP) for c in decision.checks)
        assert decision.next_allowed_at is None


@st.composite
def marketing_to_a_listed_number(draw: st.DrawFn) -> GateFacts:
    """An artificial-voice call or a text for marketing (no relationship exempts either) to a number the national
    registry lists, with written consent given up to three years before the copy or after it, maybe revoked since,
    among other ledger events."""
    facts = draw(gate_facts())
    channel = draw(st.sampled_from(Channel))
    copy_as_of = facts.at.date() - timedelta(days=draw(st.integers(0, 25)))
    granted = facts.at - timedelta(days=draw(st.integers(-5, 3 * 365)), minutes=draw(st.integers(0, 1440)))
    events = [ConsentEvent(at=granted, action=ConsentAction.GRANT, kind=ConsentKind.WRITTEN)]
    if draw(st.booleans()):
        events.append(ConsentEvent(at=granted + timedelta(days=draw(st.integers(0, 400))), action=ConsentAction.REVOKE))
    others = [r for r in facts.registry_listings if r.registry != NATIONAL_REGISTRY]
    return dataclasses.replace(
        facts,
        channel=channel,
        voice=VoiceKind.ARTIFICIAL if channel is Channel.VOICE else None,
        purpose=Purpose.MARKETING,
        consent_events=(*events, *facts.consent_events),
        registry_listings=(RegistryListing(NATIONAL_REGISTRY, True, copy_as_of), *others),
        opt_out_confirmation=None,
    )


@SETTINGS
@given(marketing_to_a_listed_number())
def test_a_listing_yields_exactly_to_written_consent_in_force(facts: GateFacts) -> None:
    """The national and state list checks of a listed number pass exactly when written consent covering the call is
    in force: whenever it was given, before or after the copies' dates, until revoked."""
    checks = {c.rule: c for c in evaluate(facts, RULEBOOK).checks}
    expected = Verdict.PASS if written_consent_in_force(facts) else Verdict.BLOCK
    listed = [r.registry for r in facts.registry_listings if r.listed]
    for registry in listed:
        rule_id = "federal.national_dnc" if registry == NATIONAL_REGISTRY else f"{registry[6:]}.dnc_list"
        check = checks.get(rule_id)
        if check is not None:  # a state's check only where the state's rules apply
            assert check.result is expected, (registry, check, facts.consent_events)
    assert checks["federal.national_dnc"].result is expected


@SETTINGS
@given(gate_facts(), st.randoms(use_true_random=False))
def test_decision_does_not_depend_on_ledger_order(facts: GateFacts, random: object) -> None:
    events = list(facts.consent_events)
    random.shuffle(events)  # type: ignore[attr-defined]
    shuffled = dataclasses.replace(facts, consent_events=tuple(events))
    assert _comparable(evaluate(shuffled, RULEBOOK)) == _comparable(evaluate(facts, RULEBOOK))


@SETTINGS
@given(gate_facts())
def test_next_allowed_moment_is_the_first_that_time_rules_allow(facts: GateFacts) -> None:
    """Other facts (consent events yet to come, registry ages) may change by then; time rules must not block."""
    decision = evaluate(facts, RULEBOOK)
    if decision.next_allowed_at is None:
        return
    assert decision.next_allowed_at > facts.at
    assert {c.rule for c in decision.blocking} <= TIME_RULES
    assert not _time_blocks(dataclasses.replace(facts, at=decision.next_allowed_at))
    a_minute_earlier = decision.next_allowed_at - timedelta(minutes=1)
    if a_minute_earlier >= facts.at:
        assert _time_blocks(dataclasses.replace(facts, at=a_minute_earlier))


def _time_blocks(facts: GateFacts) -> list[str]:
    return [c.rule for c in evaluate(facts, RULEBOOK).blocking if c.rule in TIME_RULES]


@SETTINGS
@given(
    phone=st.text(max_size=20),
    at=st.datetimes(timezones=st.none() | st.just(UTC)),
    channel=st.sampled_from(Channel),
    voice=st.none() | st.sampled_from(VoiceKind),
    state=st.none() | st.text(max_size=3),
    postal=st.none() | st.text(max_size=12),
)
def test_evaluate_never_raises(
    phone: str, at: datetime, channel: Channel, voice: VoiceKind | None, state: str | None, postal: str | None
) -> None:
    facts = GateFacts(
        phone=phone, channel=channel, voice=voice, purpose=Purpose.MARKETING, at=at,
        address=Address(state=state, postal_code=postal),
    )  # fmt: skip
    decision = evaluate(facts, RULEBOOK)
    assert isinstance(decision, Decision)
    assert not decision.allowed  # no consent events and no registry copy: a marketing call never goes


def _comparable(decision: Decision) -> tuple[object, ...]:
    return decision.allowed, decision.checks, decision.next_allowed_at
