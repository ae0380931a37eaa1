"""Table-driven scenarios: each changes the baseline call in one way and names the rule that must decide it.

Local times in comments are wall-clock times in the called party's zone(s).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from compliance.consent import ConsentEvent, ConsentKind
from compliance.decision import Verdict
from compliance.ebr import BusinessRelationship
from compliance.facts import (
    NATIONAL_REGISTRY,
    Address,
    GateFacts,
    InternalDncEntry,
    OptOutConfirmation,
    ReassignedNumberResult,
    ReassignedStatus,
    RegistryListing,
    state_registry,
)
from compliance.gate import evaluate
from compliance.rulebook import RuleBook
from compliance.sms_keywords import SmsIntent, classify_sms
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind
from tests.compliance.factories import BASE_AT, CONSENT_AT, facts, fresh_listings, grant, revoke, utc

SMS_ONLY = frozenset({ConsentChannel.SMS})


@dataclass(frozen=True)
class Scenario:
    name: str
    rule: str
    facts: GateFacts
    allowed: bool
    verdict: Verdict | None = None
    """The named rule's verdict; defaults to BLOCK when not allowed, PASS when allowed."""
    next_allowed_at: datetime | None = None
    detail: str | None = None


def revocation_from_text(text: str, at: datetime) -> tuple[ConsentEvent, ...]:
    """The ledger events after an inbound text, as the SMS webhook would record them."""
    intent = classify_sms(text)
    events = [grant()]
    if intent is SmsIntent.OPT_OUT:
        events.append(revoke(at, channels=SMS_ONLY))
    elif intent is SmsIntent.OPT_IN:
        events.append(grant(at, channels=SMS_ONLY))
    return tuple(events)


LISTED_AS_OF = BASE_AT.date() - timedelta(days=5)


def listed_nationally(as_of: date = LISTED_AS_OF) -> tuple[RegistryListing, ...]:
    """Fresh copies of every list, the national one listing the number (copies say whether, never since when)."""
    return fresh_listings(as_of, listed=frozenset({NATIONAL_REGISTRY}))


LIVE_NO_CONSENT = {"voice": VoiceKind.LIVE, "consent_events": ()}

SCENARIOS = [
    # --- split area codes -------------------------------------------------------------------------------------
    Scenario("850 unknown prefix: Central 07:30 blocks though Eastern is 08:30", "US.calling_hours",
             facts(phone="+18505550134", at=utc(2025, 6, 10, 12, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 13, 0)),
    Scenario("850 unknown prefix: Eastern 20:30 is past Florida's 20:00", "FL.calling_hours",
             facts(phone="+18505550134", at=utc(2025, 6, 11, 0, 30)), False,
             next_allowed_at=utc(2025, 6, 11, 13, 0)),
    Scenario("850-433 (Pensacola, known Central prefix): 19:30 allowed", "FL.calling_hours",
             facts(phone="+18504330134", at=utc(2025, 6, 11, 0, 30)), True),
    Scenario("812 unknown prefix: Eastern 21:30 blocks", "US.calling_hours",
             facts(phone="+18125550134", at=utc(2025, 6, 11, 1, 30)), False,
             next_allowed_at=utc(2025, 6, 11, 13, 0)),
    Scenario("812-401 (Evansville, known Central prefix): 20:30 allowed", "US.calling_hours",
             facts(phone="+18124010134", at=utc(2025, 6, 11, 1, 30)), True),
    Scenario("423 unknown prefix: library says Central, split table adds Eastern 21:30", "US.calling_hours",
             facts(phone="+14235550134", at=utc(2025, 6, 11, 1, 30)), False,
             detail="America/New_York"),
    Scenario("423-202 (known Eastern prefix): 20:30 allowed", "US.calling_hours",
             facts(phone="+14232020134", at=utc(2025, 6, 11, 0, 30)), True),
    Scenario("701 unknown prefix: Mountain 07:30 blocks though Central is 08:30", "US.calling_hours",
             facts(phone="+17015550134", at=utc(2025, 6, 10, 13, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 14, 0)),
    Scenario("928 in June: Navajo Nation (DST) 21:30 blocks while Phoenix is 20:30", "US.calling_hours",
             facts(phone="+19285550134", at=utc(2025, 6, 11, 3, 30)), False,
             next_allowed_at=utc(2025, 6, 11, 15, 0), detail="America/Denver"),
    Scenario("928 in January: Navajo Nation and Phoenix agree at 20:30", "US.calling_hours",
             facts(phone="+19285550134", at=utc(2025, 1, 14, 3, 30)), True),
    # --- Arizona, Hawaii, Alaska ------------------------------------------------------------------------------
    Scenario("Arizona keeps standard time: 602 at 20:30 MST in June allowed", "US.calling_hours",
             facts(phone="+16025550134", at=utc(2025, 6, 11, 3, 30)), True),
    Scenario("Arizona 07:30 MST blocks; next 08:00 MST", "US.calling_hours",
             facts(phone="+16025550134", at=utc(2025, 6, 10, 14, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 15, 0)),
    Scenario("Hawaii 07:30 HST blocks; next 08:00 HST", "US.calling_hours",
             facts(phone="+18085550134", at=utc(2025, 6, 10, 17, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 18, 0)),
    Scenario("Alaska 907: Adak 07:30 blocks while Anchorage is 08:30", "US.calling_hours",
             facts(phone="+19075550134", at=utc(2025, 6, 10, 16, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 17, 0), detail="America/Adak"),
    Scenario("address zone joins the number's: NY number, Los Angeles address at 07:30 PDT", "US.calling_hours",
             facts(address=Address(state="CA", postal_code="90012"), at=utc(2025, 6, 10, 14, 30)), False,
             detail="America/Los_Angeles"),
    Scenario("address state's rules apply: CA's AI-voice window opens at 09:00 PDT", "CA.adad_hours",
             facts(address=Address(state="CA", postal_code="90012"), at=utc(2025, 6, 10, 14, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 16, 0)),
    # --- daylight-saving change days --------------------------------------------------------------------------
    Scenario("spring forward (2025-03-09): 12:30 UTC is 08:30 EDT, allowed", "US.calling_hours",
             facts(at=utc(2025, 3, 9, 12, 30)), True),
    Scenario("spring forward: 07:30 EDT blocks; next 08:00 EDT = 12:00 UTC", "US.calling_hours",
             facts(at=utc(2025, 3, 9, 11, 30)), False, next_allowed_at=utc(2025, 3, 9, 12, 0)),
    Scenario("fall back (2025-11-02): 12:30 UTC is 07:30 EST; next 13:00 UTC", "US.calling_hours",
             facts(at=utc(2025, 11, 2, 12, 30)), False, next_allowed_at=utc(2025, 11, 2, 13, 0)),
    Scenario("fall back eve: 21:30 EDT on Nov 1; next is 08:00 EST = 13:00 UTC", "US.calling_hours",
             facts(at=utc(2025, 11, 2, 1, 30)), False, next_allowed_at=utc(2025, 11, 2, 13, 0)),
    # --- state windows, Sundays, holidays ---------------------------------------------------------------------
    Scenario("Florida 20:30 blocks under FL though the federal window is open", "FL.calling_hours",
             facts(phone="+13055550134", at=utc(2025, 6, 11, 0, 30)), False,
             next_allowed_at=utc(2025, 6, 11, 12, 0)),
    Scenario("Texas Sunday 10:00 blocks (Sunday window 12-21)", "TX.calling_hours",
             facts(phone="+12145550134", at=utc(2025, 6, 8, 15, 0)), False,
             next_allowed_at=utc(2025, 6, 8, 17, 0)),
    Scenario("Texas Saturday 10:00 allowed", "TX.calling_hours",
             facts(phone="+12145550134", at=utc(2025, 6, 14, 15, 0)), True),
    Scenario("Connecticut 08:30 blocks (9-20)", "CT.calling_hours",
             facts(phone="+12035550134", at=utc(2025, 6, 10, 12, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 13, 0)),
    Scenario("Kentucky 09:30 blocks (10-21)", "KY.calling_hours",
             facts(phone="+15025550134", at=utc(2025, 6, 10, 13, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 14, 0)),
    Scenario("Rhode Island Saturday 17:30 blocks; Sunday banned, next Monday 09:00", "RI.calling_hours",
             facts(phone="+14015550134", at=utc(2025, 6, 14, 21, 30)), False,
             next_allowed_at=utc(2025, 6, 16, 13, 0)),
    Scenario("Rhode Island weekday 17:30 allowed", "RI.calling_hours",
             facts(phone="+14015550134", at=utc(2025, 6, 10, 21, 30)), True),
    Scenario("Louisiana Sunday blocks; next Monday 08:00 CDT", "LA.calling_hours",
             facts(phone="+15045550134", at=utc(2025, 6, 8, 15, 0)), False,
             next_allowed_at=utc(2025, 6, 9, 13, 0), detail="Sunday"),
    Scenario("Alabama Confederate Memorial Day (4th Monday of April) blocks", "AL.calling_hours",
             facts(phone="+12055550134", at=utc(2025, 4, 28, 15, 0)), False,
             next_allowed_at=utc(2025, 4, 29, 13, 0), detail="Confederate Memorial Day"),
    Scenario("Alabama Christmas Day blocks", "AL.calling_hours",
             facts(phone="+12055550134", at=utc(2025, 12, 25, 16, 0)), False,
             next_allowed_at=utc(2025, 12, 26, 14, 0), detail="Christmas"),
    Scenario("Louisiana Mardi Gras (Easter - 47 days) blocks", "LA.calling_hours",
             facts(phone="+15045550134", at=utc(2025, 3, 4, 16, 0)), False,
             next_allowed_at=utc(2025, 3, 5, 14, 0), detail="Mardi Gras"),
    Scenario("Pennsylvania Good Friday blocks; next Saturday 08:00 EDT", "PA.calling_hours",
             facts(phone="+12155550134", at=utc(2025, 4, 18, 15, 0)), False,
             next_allowed_at=utc(2025, 4, 19, 12, 0), detail="Good Friday"),
    Scenario("Utah Sunday blocks a live call made without consent", "UT.calling_hours",
             facts(phone="+18015550134", at=utc(2025, 6, 8, 18, 0), **LIVE_NO_CONSENT), False,
             next_allowed_at=utc(2025, 6, 9, 14, 0)),
    Scenario("Utah Sunday ban waived by prior express consent", "UT.calling_hours",
             facts(phone="+18015550134", at=utc(2025, 6, 8, 18, 0)), True, detail="waived"),
    Scenario("Mississippi counts Central Standard Time: 08:30 CDT is 07:30 CST", "MS.calling_hours",
             facts(phone="+16015550134", at=utc(2025, 6, 10, 13, 30),
                   relationship=BusinessRelationship(last_inquiry_at=utc(2025, 6, 1))), False,
             next_allowed_at=utc(2025, 6, 10, 14, 0), detail="Etc/GMT+6"),
    Scenario("Mississippi recorded-voice solicitation without an EBR blocks", "MS.recorded_voice_ebr",
             facts(phone="+16015550134"), False),
    Scenario("Oklahoma: AI voice at 08:30 blocks under the ADAD window (9-21)", "OK.adad_hours",
             facts(phone="+14055550134", at=utc(2025, 6, 10, 13, 30)), False,
             next_allowed_at=utc(2025, 6, 10, 14, 0)),
    Scenario("Oklahoma: a live call at 08:30 is allowed", "OK.calling_hours",
             facts(phone="+14055550134", at=utc(2025, 6, 10, 13, 30), **LIVE_NO_CONSENT), True),
    Scenario("California ADAD window binds informational AI-voice calls too (08:30 PDT)", "CA.adad_hours",
             facts(phone="+14155550134", at=utc(2025, 6, 10, 15, 30), purpose=Purpose.INFORMATIONAL), False,
             next_allowed_at=utc(2025, 6, 10, 16, 0)),
    Scenario("Washington 20:30 blocks (8-20)", "WA.calling_hours",
             facts(phone="+12065550134", at=utc(2025, 6, 11, 3, 30)), False,
             next_allowed_at=utc(2025, 6, 11, 15, 0)),
    # --- frequency caps ---------------------------------------------------------------------------------------
    Scenario("Florida cap: a fourth call within 24 h blocks until the oldest ages out", "FL.frequency_cap",
             facts(phone="+13055550134",
                   recent_attempts=tuple(BASE_AT - timedelta(hours=h) for h in (20, 10, 1))), False,
             next_allowed_at=BASE_AT + timedelta(hours=4)),
    Scenario("Florida cap: an attempt 25 h ago no longer counts", "FL.frequency_cap",
             facts(phone="+13055550134",
                   recent_attempts=tuple(BASE_AT - timedelta(hours=h) for h in (25, 10, 1))), True),
    Scenario("Florida cap opening at 20:15 EDT waits for the morning window", "FL.frequency_cap",
             facts(phone="+13055550134", at=utc(2025, 6, 10, 23, 0),
                   recent_attempts=(utc(2025, 6, 10, 0, 15), utc(2025, 6, 10, 14, 0), utc(2025, 6, 10, 20, 0))),
             False, next_allowed_at=utc(2025, 6, 11, 12, 0)),
    Scenario("Maryland cap blocks a fourth call", "MD.frequency_cap",
             facts(phone="+14105550134",
                   recent_attempts=tuple(BASE_AT - timedelta(hours=h) for h in (3, 2, 1))), False),
    Scenario("New York has no cap: a sixth call is allowed", "US.calling_hours",
             facts(recent_attempts=tuple(BASE_AT - timedelta(hours=h) for h in range(1, 6))), True),
    # --- consent ----------------------------------------------------------------------------------------------
    Scenario("AI-voice marketing with only express consent blocks (needs written)", "federal.consent.written",
             facts(consent_events=(grant(kind=ConsentKind.EXPRESS),)), False),
    Scenario("AI-voice informational call with express consent allowed", "federal.consent.express",
             facts(consent_events=(grant(kind=ConsentKind.EXPRESS),), purpose=Purpose.INFORMATIONAL), True),
    Scenario("AI-voice marketing without any consent blocks", "federal.consent.written",
             facts(consent_events=()), False),
    Scenario("marketing text with written consent allowed", "federal.consent.written",
             facts(channel=Channel.SMS, voice=None), True),
    Scenario("STOP keyword revokes texts", "federal.consent.written",
             facts(channel=Channel.SMS, voice=None,
                   consent_events=revocation_from_text("STOP", BASE_AT - timedelta(days=1))), False),
    Scenario("free text 'please stop texting me' revokes texts", "federal.consent.written",
             facts(channel=Channel.SMS, voice=None,
                   consent_events=revocation_from_text("please stop texting me", BASE_AT - timedelta(days=1))),
             False, detail="revoked"),
    Scenario("'I can't stop thinking about that house' revokes nothing", "federal.consent.written",
             facts(channel=Channel.SMS, voice=None,
                   consent_events=revocation_from_text("I can't stop thinking about that house",
                                                       BASE_AT - timedelta(days=1))), True),
    Scenario("a text-only revocation leaves AI-voice consent in force", "federal.consent.written",
             facts(consent_events=revocation_from_text("Unsubscribe", BASE_AT - timedelta(days=1))), True),
    Scenario("a revocation at the same instant as a grant wins", "federal.consent.written",
             facts(consent_events=(grant(CONSENT_AT), revoke(CONSENT_AT))), False),
    Scenario("START after STOP restores text consent", "federal.consent.written",
             facts(channel=Channel.SMS, voice=None,
                   consent_events=(grant(), revoke(utc(2025, 1, 5), channels=SMS_ONLY),
                                   grant(utc(2025, 2, 1), channels=SMS_ONLY))), True),
    Scenario("a live call after a revocation of all channels blocks", "federal.consent.revocation",
             facts(voice=VoiceKind.LIVE, consent_events=(grant(), revoke(utc(2025, 3, 1)))), False),
    Scenario("a live marketing call needs no prior consent", "federal.consent.revocation",
             facts(**LIVE_NO_CONSENT), True),
    # --- Do-Not-Call registry, EBR ----------------------------------------------------------------------------
    # 47 CFR 64.1200(c)(2)(ii): signed written consent exempts from a listing whatever the order of the two.
    Scenario("written consent older than the copy that lists the number exempts", "federal.national_dnc",
             facts(consent_events=(grant(utc(2025, 5, 1, 12)),), registry_listings=listed_nationally(date(2025, 6, 1))),
             True, detail="written consent of 2025-05-01"),
    Scenario("written consent given after the number was listed exempts", "federal.national_dnc",
             facts(consent_events=(grant(utc(2025, 6, 8, 12)),), registry_listings=listed_nationally()), True),
    Scenario("written consent revoked after the listing: the listing stands", "federal.national_dnc",
             facts(consent_events=(grant(), revoke(utc(2025, 6, 7, 12))), registry_listings=listed_nationally()),
             False, detail="no written consent in force (revoked on 2025-06-07)"),
    Scenario("written consent exempts a marketing text to a listed number", "federal.national_dnc",
             facts(channel=Channel.SMS, voice=None, registry_listings=listed_nationally()), True),
    Scenario("written consent exempts a live call to a listed number", "federal.national_dnc",
             facts(voice=VoiceKind.LIVE, registry_listings=listed_nationally()), True),
    Scenario("express consent does not exempt a live call from the registry", "federal.national_dnc",
             facts(voice=VoiceKind.LIVE, consent_events=(grant(kind=ConsentKind.EXPRESS),),
                   registry_listings=listed_nationally()), False, detail="no written consent in force"),
    Scenario("EBR: inquiry 2 months ago exempts a live call from the registry", "federal.national_dnc",
             facts(registry_listings=listed_nationally(), **LIVE_NO_CONSENT,
                   relationship=BusinessRelationship(last_inquiry_at=BASE_AT - timedelta(days=60))), True),
    Scenario("EBR: inquiry 4 months ago has expired", "federal.national_dnc",
             facts(registry_listings=listed_nationally(), **LIVE_NO_CONSENT,
                   relationship=BusinessRelationship(last_inquiry_at=BASE_AT - timedelta(days=120))), False,
             detail="expired"),
    Scenario("EBR: transaction 17 months ago exempts a live call", "federal.national_dnc",
             facts(registry_listings=listed_nationally(), **LIVE_NO_CONSENT,
                   relationship=BusinessRelationship(last_transaction_at=utc(2024, 1, 20))), True),
    Scenario("EBR: transaction 19 months ago has expired", "federal.national_dnc",
             facts(registry_listings=listed_nationally(), **LIVE_NO_CONSENT,
                   relationship=BusinessRelationship(last_transaction_at=utc(2023, 11, 10))), False),
    Scenario("EBR ended by a later Do-Not-Call request", "federal.national_dnc",
             facts(registry_listings=listed_nationally(), **LIVE_NO_CONSENT,
                   relationship=BusinessRelationship(last_inquiry_at=BASE_AT - timedelta(days=30),
                                                     last_dnc_request_at=BASE_AT - timedelta(days=10))), False,
             detail="ended"),
    Scenario("EBR never exempts an AI-voice call", "federal.national_dnc",
             facts(registry_listings=listed_nationally(), consent_events=(),
                   relationship=BusinessRelationship(last_inquiry_at=BASE_AT - timedelta(days=10))), False,
             detail="live calls only"),
    Scenario("stale registry copy (40 days) blocks marketing that relies on it", "federal.dnc_registry_copy",
             facts(registry_listings=fresh_listings(BASE_AT.date() - timedelta(days=40))), False,
             detail="stale"),
    Scenario("a stale registry copy does not bind informational calls", "federal.dnc_registry_copy",
             facts(registry_listings=fresh_listings(BASE_AT.date() - timedelta(days=40)),
                   purpose=Purpose.INFORMATIONAL), True, verdict=Verdict.SKIP),
    Scenario("no registry copy at all fails closed", "federal.national_dnc",
             facts(registry_listings=()), False, detail="missing data"),
    Scenario("Texas state list: a listed number blocks a live call without written consent", "TX.dnc_list",
             facts(phone="+12145550134", **LIVE_NO_CONSENT,
                   registry_listings=fresh_listings(BASE_AT.date(), listed=frozenset({state_registry("TX")}))),
             False),
    Scenario("Texas state list: written consent exempts as from the national registry", "TX.dnc_list",
             facts(phone="+12145550134",
                   registry_listings=fresh_listings(BASE_AT.date(), listed=frozenset({state_registry("TX")}))),
             True),
    Scenario("Texas quarterly list 80 days old is still usable", "TX.dnc_list",
             facts(phone="+12145550134",
                   registry_listings=(RegistryListing(NATIONAL_REGISTRY, False, BASE_AT.date()),
                                      RegistryListing(state_registry("TX"), False,
                                                      BASE_AT.date() - timedelta(days=80)))), True),
    Scenario("internal DNC list blocks even an informational call", "federal.internal_dnc",
             facts(internal_dnc=InternalDncEntry(BASE_AT - timedelta(minutes=1)), purpose=Purpose.INFORMATIONAL),
             False),
    Scenario("reassigned number: disconnected after consent blocks", "federal.reassigned_numbers",
             facts(reassigned_number=ReassignedNumberResult(ReassignedStatus.DISCONNECTED, date(2024, 12, 1),
                                                            disconnected_on=date(2025, 2, 1))), False),
    Scenario("reassigned number: not disconnected since consent passes", "federal.reassigned_numbers",
             facts(reassigned_number=ReassignedNumberResult(ReassignedStatus.NOT_DISCONNECTED,
                                                            date(2024, 12, 1))), True),
    # --- SMS opt-out confirmation -----------------------------------------------------------------------------
    Scenario("opt-out confirmation within 5 minutes goes out despite DNC and the late hour",
             "federal.opt_out_confirmation",
             facts(channel=Channel.SMS, voice=None, purpose=Purpose.INFORMATIONAL, at=utc(2025, 6, 11, 3, 0),
                   internal_dnc=InternalDncEntry(utc(2025, 6, 11, 2, 58)),
                   opt_out_confirmation=OptOutConfirmation(utc(2025, 6, 11, 2, 58))), True),
    Scenario("opt-out confirmation 6 minutes later blocks", "federal.opt_out_confirmation",
             facts(channel=Channel.SMS, voice=None, purpose=Purpose.INFORMATIONAL,
                   internal_dnc=InternalDncEntry(BASE_AT - timedelta(minutes=6)),
                   opt_out_confirmation=OptOutConfirmation(BASE_AT - timedelta(minutes=6))), False),
    Scenario("opt-out confirmation carrying marketing blocks", "federal.opt_out_confirmation",
             facts(channel=Channel.SMS, voice=None,
                   opt_out_confirmation=OptOutConfirmation(BASE_AT - timedelta(minutes=1))), False),
    Scenario("a second opt-out confirmation blocks", "federal.opt_out_confirmation",
             facts(channel=Channel.SMS, voice=None, purpose=Purpose.INFORMATIONAL,
                   opt_out_confirmation=OptOutConfirmation(BASE_AT - timedelta(minutes=1), confirmations_sent=1)),
             False),
    # --- inputs that cannot be decided ------------------------------------------------------------------------
    Scenario("Canadian number is outside the gate's jurisdiction", "jurisdiction",
             facts(phone="+14165550134"), False),
    Scenario("invalid number blocks", "phone.valid", facts(phone="+1555"), False),
    Scenario("naive datetime blocks", "gate.input", facts(at=datetime(2025, 6, 10, 15, 0)), False),
    Scenario("a voice call without a voice kind blocks", "gate.input", facts(voice=None), False),
    Scenario("toll-free number without an address has no time zone", "time_zone",
             facts(phone="+18005550134"), False, detail="no time zone"),
    Scenario("an unknown address state fails closed", "time_zone",
             facts(address=Address(state="ZZ")), False, detail="unknown address state"),
]  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, rulebook: RuleBook) -> None:
    decision = evaluate(scenario.facts, rulebook)

    named = [c for c in decision.checks if c.rule == scenario.rule]
    assert named, f"rule {scenario.rule} not checked; checks: {[c.rule for c in decision.checks]}"
    check = named[0]
    expected = scenario.verdict or (Verdict.PASS if scenario.allowed else Verdict.BLOCK)
    assert check.result is expected, check
    assert decision.allowed is scenario.allowed, decision.blocking
    if scenario.detail is not None:
        assert scenario.detail in check.detail, check.detail
    if scenario.next_allowed_at is not None:
        assert decision.next_allowed_at == scenario.next_allowed_at
    assert check.citation
    assert decision.rule_versions[scenario.rule] == check.version


def test_there_are_at_least_forty_scenarios() -> None:
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS) >= 40


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.next_allowed_at is not None], ids=lambda s: s.name)
def test_next_allowed_moment_is_allowed(scenario: Scenario, rulebook: RuleBook) -> None:
    """Asking again at the announced moment gets a yes, and a minute earlier still gets a no."""
    decision = evaluate(scenario.facts, rulebook)
    assert decision.next_allowed_at is not None
    later = evaluate(_at(scenario.facts, decision.next_allowed_at), rulebook)
    assert later.allowed, later.blocking
    earlier = evaluate(_at(scenario.facts, decision.next_allowed_at - timedelta(minutes=1)), rulebook)
    assert not earlier.allowed


def _at(gate_facts: GateFacts, at: datetime) -> GateFacts:
    return dataclasses.replace(gate_facts, at=at)
