"""Signed written consent exempts from a Do-Not-Call listing whatever the order of the two (47 CFR
64.1200(c)(2)(ii); 16 CFR 310.4(b)(1)(iii)(B)(1)), until revoked; through the national registry and every state
list of the rule data alike."""

from __future__ import annotations

from datetime import date

import pytest

from compliance.consent import ConsentEvent
from compliance.decision import Check, Verdict
from compliance.facts import NATIONAL_REGISTRY, GateFacts, RegistryListing, state_registry
from compliance.gate import evaluate
from compliance.rulebook import RuleBook
from compliance.rules import FederalRule, StateDncListRule
from compliance.vocabulary import VoiceKind
from tests.compliance.factories import BASE_AT, facts, grant, revoke, utc

RULEBOOK = RuleBook.load()
STATE_LISTS = sorted(
    (rule for rules in RULEBOOK.by_jurisdiction.values() for rule in rules if isinstance(rule, StateDncListRule)),
    key=lambda rule: rule.jurisdiction,
)
NATIONAL_COPY = date(2025, 6, 5)
STATE_COPY = date(2025, 6, 1)

# The ledger of a live marketing call on BASE_AT (live calls need no consent of their own, so the listing decides),
# and whether the listing lets it through.
LEDGERS: dict[str, tuple[tuple[ConsentEvent, ...], bool]] = {
    "written consent older than the copy listing the number": ((grant(utc(2025, 5, 1, 12)),), True),
    "written consent given after the copy listing the number": ((grant(utc(2025, 6, 8, 12)),), True),
    "written consent revoked after the listing": ((grant(utc(2025, 5, 1, 12)), revoke(utc(2025, 6, 7, 12))), False),
    "no consent": ((), False),
}


def _phone_in(state: str) -> str:
    area_code = min(code for code, st in RULEBOOK.geography.area_code_states.items() if st == state)
    return f"+1{area_code}5550134"


def _live_call(state: str, *, listed_by: str, events: tuple[ConsentEvent, ...]) -> GateFacts:
    copies = ((NATIONAL_REGISTRY, NATIONAL_COPY), (state_registry(state), STATE_COPY))
    return facts(
        phone=_phone_in(state),
        voice=VoiceKind.LIVE,
        consent_events=events,
        registry_listings=tuple(RegistryListing(name, name == listed_by, day) for name, day in copies),
    )


def _check(facts: GateFacts, rule_id: str) -> tuple[Check, bool]:
    decision = evaluate(facts, RULEBOOK)
    (check,) = [c for c in decision.checks if c.rule == rule_id]
    return check, decision.allowed


def test_the_rule_data_has_state_lists() -> None:
    assert {rule.jurisdiction for rule in STATE_LISTS} >= {"TX", "FL", "IN"}


@pytest.mark.parametrize("ledger", LEDGERS)
@pytest.mark.parametrize("rule", STATE_LISTS, ids=lambda rule: rule.meta.rule_id)
def test_every_state_list_honours_written_consent_as_the_national_registry_does(
    rule: StateDncListRule, ledger: str
) -> None:
    """No state of the rule data has a statute known to treat written consent otherwise (compliance/data/README.md):
    a listing on the state's list decides a call as the same listing on the national registry does, with the same
    verdict and the same reasons."""
    events, passes = LEDGERS[ledger]
    state = rule.jurisdiction
    expected = Verdict.PASS if passes else Verdict.BLOCK
    national, national_allowed = _check(
        _live_call(state, listed_by=NATIONAL_REGISTRY, events=events), FederalRule.NATIONAL_DNC.value
    )
    listed, state_allowed = _check(_live_call(state, listed_by=state_registry(state), events=events), rule.meta.rule_id)
    assert (national.result, national_allowed) == (expected, passes), national
    assert (listed.result, state_allowed) == (expected, passes), listed
    assert listed.detail.replace(f"{state} Do-Not-Call list (copy of {STATE_COPY}", "") == national.detail.replace(
        f"National DNC Registry (copy of {NATIONAL_COPY}", ""
    )


def test_the_changed_rules_carry_new_versions() -> None:
    """The rules' meaning changed with the data version 2026.2: decisions record which reading they used."""
    changed = [RULEBOOK.meta(FederalRule.NATIONAL_DNC), *(rule.meta for rule in STATE_LISTS)]
    assert {meta.version for meta in changed} == {"2026.2"}
    assert RULEBOOK.version.startswith("2026.2+")


def test_the_revocation_is_named_and_the_unrevoked_consent_dated() -> None:
    events, _ = LEDGERS["written consent revoked after the listing"]
    check, _ = _check(_live_call("TX", listed_by=NATIONAL_REGISTRY, events=events), FederalRule.NATIONAL_DNC.value)
    assert "no written consent in force (revoked on 2025-06-07)" in check.detail
    events, _ = LEDGERS["written consent older than the copy listing the number"]
    check, _ = _check(_live_call("TX", listed_by=state_registry("TX"), events=events), "TX.dnc_list")
    assert check.detail == (
        f"on the TX Do-Not-Call list (copy of {STATE_COPY}), but written consent of 2025-05-01 to be called is in force"
    )
    assert BASE_AT.date() > STATE_COPY > date(2025, 5, 1)
