"""The gate fails closed: malformed facts and errors inside rules block, are logged, and never escape."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from compliance.decision import Verdict
from compliance.facts import Address
from compliance.gate import evaluate, registries_to_consult
from compliance.rulebook import RuleBook
from tests.compliance.factories import facts


def test_an_error_inside_one_rule_blocks_that_rule_and_the_rest_still_run(
    rulebook: RuleBook, caplog: pytest.LogCaptureFixture
) -> None:
    broken = facts(registry_listings=("+12125550134 is listed",))  # not a RegistryListing
    with caplog.at_level(logging.ERROR, logger="compliance.gate"):
        decision = evaluate(broken, rulebook)
    assert not decision.allowed
    national = next(c for c in decision.checks if c.rule == "federal.national_dnc")
    assert national.result is Verdict.BLOCK
    assert national.detail == "internal error in rule: AttributeError"
    assert any(c.rule == "US.calling_hours" and c.result is Verdict.PASS for c in decision.checks)
    assert decision.next_allowed_at is None
    assert "federal.national_dnc" in caplog.text
    assert "+1******0134" in caplog.text and "2125550134" not in caplog.text


def test_an_error_before_any_rule_blocks_the_whole_decision(
    rulebook: RuleBook, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="compliance.gate"):
        decision = evaluate(facts(consent_events=(object(),)), rulebook)
    assert not decision.allowed
    assert [c.rule for c in decision.checks] == ["gate.error"]
    assert decision.rulebook_version == rulebook.version
    assert "compliance gate failed" in caplog.text


def test_not_even_facts(rulebook: RuleBook) -> None:
    decision = evaluate(None, rulebook)  # type: ignore[arg-type]
    assert not decision.allowed
    assert decision.checks[0].rule == "gate.input"


def test_wrongly_typed_enums_are_refused(rulebook: RuleBook) -> None:
    decision = evaluate(facts(channel="voice", purpose="marketing"), rulebook)
    assert not decision.allowed
    assert "channel must be one of" in decision.checks[0].detail
    assert "purpose must be one of" in decision.checks[0].detail


def test_every_check_of_a_decision_carries_citation_and_version(rulebook: RuleBook) -> None:
    decision = evaluate(facts(phone="+13055550134"), rulebook)
    assert decision.allowed
    assert len(decision.checks) >= 10
    for check in decision.checks:
        assert check.citation and check.version and check.detail
    assert decision.rule_versions["FL.calling_hours"] == "2026.1"


def test_a_single_decision_takes_well_under_a_millisecond(rulebook: RuleBook) -> None:
    sample = facts(phone="+13055550134")
    assert evaluate(sample, rulebook).allowed
    best = min(_mean_seconds(lambda: evaluate(sample, rulebook), runs=200) for _ in range(5))
    assert best < 0.001, f"{best * 1e6:.0f} us per decision"


def _mean_seconds(call: Callable[[], object], *, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        call()
    return (time.perf_counter() - start) / runs


def test_registries_to_consult_follow_the_states_that_apply(rulebook: RuleBook) -> None:
    assert registries_to_consult("+12125550134", Address(), rulebook) == ("national",)
    assert registries_to_consult("+12145550134", Address(state="FL"), rulebook) == ("national", "state:FL", "state:TX")
    assert registries_to_consult("+12125550134", Address(postal_code="70112"), rulebook) == ("national", "state:LA")
    assert registries_to_consult("garbage", Address(), rulebook) == ("national",)
