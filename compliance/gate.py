"""The compliance gate: one pure decision over gathered facts.

``evaluate(facts, rulebook)`` runs every applicable rule and returns each verdict with its citation and version.
It never raises and never allows by accident: malformed facts, missing data a rule needs, and any error inside
a rule all become blocking checks. When nothing but time blocks (calling windows, frequency caps), the decision
names the earliest moment at which every rule allows the call.

Being pure, a decision is memoised in the rule book (``RuleBook.decisions``) under ``decision_key``: a batch's
numbers whose places read alike, at one moment, without history or with consent given on the same day, share one
``Decision``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from compliance import consent_rules, dnc_rules, number_rules, timing_rules
from compliance.consent import ConsentKind
from compliance.context import GateContext, applicable_states, build_context, consent_in_force, place_of
from compliance.decision import Check, Decision, Verdict
from compliance.errors import InvalidPhoneNumberError, MissingFactError
from compliance.facts import NATIONAL_REGISTRY, Address, GateFacts, state_registry
from compliance.phones import PhoneNumber, mask_phone, parse_phone
from compliance.rulebook import RuleBook
from compliance.rules import (
    CallingWindowRule,
    EbrRequiredRule,
    FederalRule,
    FrequencyCapRule,
    JurisdictionalRule,
    RuleMeta,
    StateDncListRule,
)
from compliance.timing_rules import TimedCheck
from compliance.vocabulary import Channel, Purpose, VoiceKind
from compliance.windows import TimeConstraint, earliest_allowed

logger = logging.getLogger(__name__)

_CONFIRMATION_EXEMPTION = "exempt: one opt-out confirmation text (47 CFR 64.1200(a)(12))"


def evaluate(facts: GateFacts, rulebook: RuleBook) -> Decision:
    """Decide whether the call or text described by ``facts`` may go now. Never raises."""
    try:
        return _evaluate(facts, rulebook)
    except Exception:  # the gate's outer boundary: an unexpected failure must block, not escape
        logger.exception("compliance gate failed for %s", _masked(facts))
        return Decision(
            checks=(
                Check(
                    rule=FederalRule.ERROR.value,
                    result=Verdict.BLOCK,
                    citation="gate policy: fail closed",
                    detail="internal error while evaluating; see logs",
                    version=getattr(rulebook, "version", "unknown"),
                ),
            ),
            next_allowed_at=None,
            rulebook_version=str(getattr(rulebook, "version", "unknown")),
        )


def _evaluate(facts: GateFacts, rulebook: RuleBook) -> Decision:
    problems = input_problems(facts)
    if problems:
        check = rulebook.meta(FederalRule.INPUT).check(Verdict.BLOCK, "; ".join(problems))
        return Decision(checks=(check,), next_allowed_at=None, rulebook_version=rulebook.version)
    phone = _valid_phone(facts.phone)
    if phone is None or facts.opt_out_confirmation is not None:
        return _decide(facts, rulebook)
    return rulebook.decisions.get(decision_key(facts, phone, rulebook), _decide, facts, rulebook)


def _valid_phone(raw: str) -> PhoneNumber | None:
    try:
        return parse_phone(raw)
    except InvalidPhoneNumberError:
        return None


def decision_key(facts: GateFacts, phone: PhoneNumber, rulebook: RuleBook) -> tuple[Hashable, ...]:
    """Everything a decision about a valid number (and no opt-out confirmation) reads, so that equal facts about
    different numbers share one ``Decision``: of the number, what the phone and jurisdiction checks read; of the
    number and the address, the content of their place (``Place.content``); of the consent ledger, the consent in
    force (dated to the day, as the rules read it); every other field of ``facts``, each moment with its time zone
    (details render dates in it).
    """
    relationship = facts.relationship
    dnc = facts.internal_dnc
    return (
        phone.region,
        phone.geographic,
        place_of(phone, facts.address, rulebook).content,
        facts.channel,
        facts.voice,
        facts.purpose,
        _moment(facts.at),
        consent_in_force(facts),
        _moment(dnc.listed_at) if dnc is not None else None,
        facts.registry_listings,
        tuple(_moment(t) for t in facts.recent_attempts),
        _moment(relationship.last_inquiry_at),
        _moment(relationship.last_transaction_at),
        _moment(relationship.last_dnc_request_at),
        facts.reassigned_number,
    )


def _moment(moment: datetime | None) -> tuple[datetime, object] | None:
    """A moment and its zone: equal instants in different zones render and add months differently."""
    return (moment, moment.tzinfo) if moment is not None else None


def _decide(facts: GateFacts, rulebook: RuleBook) -> Decision:
    ctx = build_context(facts, rulebook)
    run = _Runner(ctx)
    run.add(ctx.fixed(FederalRule.INPUT, Verdict.PASS, "facts complete"))
    run.rule(rulebook.meta(FederalRule.PHONE), number_rules.check_phone)
    if ctx.phone is not None and facts.opt_out_confirmation is None:
        for meta, rule_check, rule, outcome in _plan(ctx):
            if outcome is None:
                run.rule(meta, rule_check, rule)
            else:
                run.add_outcome(outcome)
        return run.decision()
    run.rule(rulebook.meta(FederalRule.JURISDICTION), number_rules.check_jurisdiction)
    confirmation_ok = False
    if facts.opt_out_confirmation is not None:
        confirmation = run.rule(
            rulebook.meta(FederalRule.OPT_OUT_CONFIRMATION), consent_rules.check_opt_out_confirmation
        )
        confirmation_ok = confirmation.result is Verdict.PASS
    for meta, rule_check, rule in _contact_rules(ctx):
        if confirmation_ok:
            run.add(meta.check(Verdict.SKIP, _CONFIRMATION_EXEMPTION))
        else:
            run.rule(meta, rule_check, rule)
    return run.decision()


Outcome = Check | TimedCheck
RuleCheck = Callable[[GateContext], Outcome] | Callable[[GateContext, Any], Outcome]
"""A federal rule's check takes the context; a jurisdictional rule's check takes the context and the rule."""


def _contact_rules(ctx: GateContext) -> tuple[tuple[RuleMeta, RuleCheck, JurisdictionalRule | None], ...]:
    """Every rule about reaching this person now, in the order the decision lists them."""
    book = ctx.rulebook
    consent = consent_rules.consent_rule(ctx)
    return book.memo.get(("contact_rules", consent, ctx.states), _rules_for, book, consent, ctx.states)


def _rules_for(
    book: RuleBook, consent: FederalRule, states: tuple[str, ...]
) -> tuple[tuple[RuleMeta, RuleCheck, JurisdictionalRule | None], ...]:
    return (
        (book.meta(FederalRule.INTERNAL_DNC), dnc_rules.check_internal_dnc, None),
        (book.meta(consent), consent_rules.check_consent, None),
        (book.meta(FederalRule.REASSIGNED_NUMBERS), consent_rules.check_reassigned_number, None),
        (book.meta(FederalRule.NATIONAL_DNC), dnc_rules.check_national_dnc, None),
        (book.meta(FederalRule.REGISTRY_COPY), dnc_rules.check_registry_copy, None),
        (book.meta(FederalRule.TIME_ZONE), timing_rules.check_time_zone, None),
        *((rule.meta, _CHECKS[type(rule)], rule) for rule in book.rules_for(states)),
    )


_CHECKS: dict[type, RuleCheck] = {
    CallingWindowRule: timing_rules.check_calling_window,
    FrequencyCapRule: timing_rules.check_frequency_cap,
    StateDncListRule: dnc_rules.check_state_dnc,
    EbrRequiredRule: dnc_rules.check_ebr_required,
}


PlanStep = tuple[RuleMeta, RuleCheck, JurisdictionalRule | None, Outcome | None]
"""A rule of the decision, with its outcome when the call's situation alone decides it (None: run it)."""

# Checks that read nothing of the called party but the situation ``_plan`` is keyed by.
_SITUATIONAL: frozenset[RuleCheck] = frozenset(
    {number_rules.check_jurisdiction, timing_rules.check_time_zone, timing_rules.check_calling_window}
)


def _plan(ctx: GateContext) -> tuple[PlanStep, ...]:
    """The rules after the phone check, each with its outcome when the situation decides it, memoised per
    situation: the consent rule, the place (states and zones), the number's region, the kind of call, its moment,
    whether prior express consent waives Sunday and holiday bans, and whether there are earlier attempts or an
    internal Do-Not-Call entry. A batch at one moment computes each situation's calling windows, time zones,
    jurisdiction and out-of-scope rules once. Only for a valid number and no opt-out confirmation."""
    facts = ctx.facts
    phone = ctx.require_phone()
    key = (
        "plan",
        consent_rules.consent_rule(ctx),
        ctx.place.key,
        phone.region,
        facts.channel,
        facts.voice,
        facts.purpose,
        ctx.at,
        ctx.consent.satisfies(ConsentKind.EXPRESS),
        not facts.recent_attempts,
        facts.internal_dnc is None,
    )
    return ctx.rulebook.memo.get(key, _build_plan, ctx)


def _build_plan(ctx: GateContext) -> tuple[PlanStep, ...]:
    steps: list[PlanStep] = []
    jurisdiction = ctx.rulebook.meta(FederalRule.JURISDICTION)
    for meta, rule_check, rule in ((jurisdiction, number_rules.check_jurisdiction, None), *_contact_rules(ctx)):
        outcome = _outcome(ctx, meta, rule_check, rule) if _decided_by_situation(ctx, rule_check, rule) else None
        steps.append((meta, rule_check, rule, outcome))
    return tuple(steps)


def _decided_by_situation(ctx: GateContext, rule_check: RuleCheck, rule: JurisdictionalRule | None) -> bool:
    """Whether the rule's outcome is a function of ``_plan``'s key (each condition read here is part of it)."""
    if rule is not None and not ctx.covers(rule):
        return True  # out of scope: a function of the rule and the kind and date of the call
    if rule_check in _SITUATIONAL:
        return True
    if rule_check is timing_rules.check_frequency_cap:
        return not ctx.facts.recent_attempts
    if rule_check is dnc_rules.check_internal_dnc:
        return ctx.facts.internal_dnc is None
    return False


def _outcome(ctx: GateContext, meta: RuleMeta, rule_check: RuleCheck, rule: JurisdictionalRule | None) -> Outcome:
    """The rule's outcome; missing facts and errors become blocking checks."""
    try:
        return rule_check(ctx) if rule is None else rule_check(ctx, rule)  # type: ignore[call-arg]
    except MissingFactError as exc:
        return meta.check(Verdict.BLOCK, f"missing data: {exc}")
    except Exception as exc:  # one rule's failure blocks the decision and must not stop the others
        logger.exception("compliance rule %s failed for %s", meta.rule_id, _masked(ctx.facts))
        return meta.check(Verdict.BLOCK, f"internal error in rule: {type(exc).__name__}")


class _Runner:
    """Runs rules one by one, turning missing facts and errors into blocks, and collects time constraints."""

    def __init__(self, ctx: GateContext) -> None:
        self._ctx = ctx
        self._checks: list[Check] = []
        self._timed: set[str] = set()
        self._constraints: list[TimeConstraint] = []

    def add(self, check: Check) -> Check:
        self._checks.append(check)
        return check

    def rule(self, meta: RuleMeta, rule_check: RuleCheck, rule: JurisdictionalRule | None = None) -> Check:
        return self.add_outcome(_outcome(self._ctx, meta, rule_check, rule))

    def add_outcome(self, outcome: Outcome) -> Check:
        if isinstance(outcome, TimedCheck):
            self._timed.add(outcome.check.rule)
            self._constraints.extend(outcome.constraints)
            return self.add(outcome.check)
        return self.add(outcome)

    def decision(self) -> Decision:
        blocking = [c for c in self._checks if c.result is Verdict.BLOCK]
        next_allowed: datetime | None = None
        if blocking and all(c.rule in self._timed for c in blocking):
            try:
                found = earliest_allowed(self._constraints, self._ctx.at)
            except Exception:  # the next moment is advice; failing to find it must not lose the decision
                logger.exception("next allowed moment failed for %s", _masked(self._ctx.facts))
                found = None
            next_allowed = found.astimezone(UTC) if found is not None else None
        return Decision(
            checks=tuple(self._checks), next_allowed_at=next_allowed, rulebook_version=self._ctx.rulebook.version
        )


def registries_to_consult(phone: str, address: Address, rulebook: RuleBook) -> tuple[str, ...]:
    """The registries whose copies ``evaluate`` reads for this number: the national registry, then the list of
    every applicable state that keeps one. Gather a ``RegistryListing`` for each (a missing one blocks marketing)."""
    states = applicable_states(_valid_phone(phone), address, rulebook.geography)
    lists = [state_registry(r.jurisdiction) for r in rulebook.rules_for(states) if isinstance(r, StateDncListRule)]
    return (NATIONAL_REGISTRY, *dict.fromkeys(lists))


def input_problems(facts: GateFacts) -> list[str]:
    """What makes ``facts`` unusable; empty when the gate can evaluate them."""
    problems: list[str] = []
    if not isinstance(facts, GateFacts):
        return [f"expected GateFacts, got {type(facts).__name__}"]
    if not isinstance(facts.phone, str) or not facts.phone.strip():
        problems.append("phone is missing")
    if not isinstance(facts.channel, Channel):
        problems.append(f"channel must be one of {[c.value for c in Channel]}")
    if not isinstance(facts.purpose, Purpose):
        problems.append(f"purpose must be one of {[p.value for p in Purpose]}")
    if facts.channel is Channel.VOICE and not isinstance(facts.voice, VoiceKind):
        problems.append("a voice call needs a voice kind (artificial or live)")
    if not isinstance(facts.at, datetime) or facts.at.tzinfo is None or facts.at.utcoffset() is None:
        problems.append("time must be a timezone-aware datetime")
    return problems


def _masked(facts: object) -> str:
    phone = getattr(facts, "phone", None)
    return mask_phone(phone) if isinstance(phone, str) else "<no phone>"
