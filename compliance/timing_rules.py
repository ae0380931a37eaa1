"""Rules about when: the called party's time zones, calling windows, and frequency caps.

Every window applies in every candidate zone, so the strictest rule in the latest and earliest zone wins.
Each check carries the time constraints it enforces, from which the gate computes the next allowed moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from compliance.consent import ConsentKind
from compliance.context import GateContext
from compliance.decision import Check, Verdict
from compliance.rules import CallingWindowRule, FederalRule, FrequencyCapRule
from compliance.windows import NotBefore, TimeConstraint, ZonedWindow


@dataclass(frozen=True, slots=True)
class TimedCheck:
    check: Check
    constraints: tuple[TimeConstraint, ...]


def check_time_zone(ctx: GateContext) -> Check:
    zones = ctx.require_zones()
    meta = ctx.rulebook.meta(FederalRule.TIME_ZONE)
    return ctx.per_place("time_zone", lambda: meta.check(Verdict.PASS, f"candidate zones: {zones.describe()}"))


def check_calling_window(ctx: GateContext, rule: CallingWindowRule) -> TimedCheck:
    if not ctx.covers(rule):
        return TimedCheck(ctx.out_of_scope(rule), ())
    zones = (*ctx.require_zones().zones, *rule.also_in_zones)
    waived = rule.bans_waived_by_consent and ctx.consent.satisfies(ConsentKind.EXPRESS)
    at = ctx.at
    # A pure function of these: a batch of calls at one moment computes it once per set of zones.
    return ctx.rulebook.memo.get(
        ("calling_window", rule.meta.rule_id, zones, waived, at), _window_check, rule, zones, waived, at
    )


def _window_check(rule: CallingWindowRule, zones: tuple[ZoneInfo, ...], waived: bool, at: datetime) -> TimedCheck:
    """The window's verdict in ``zones`` at ``at``."""
    constraints = tuple(ZonedWindow(rule.schedule, zone, honour_bans=not waived) for zone in zones)
    reasons = [reason for c in constraints if (reason := c.closed_reason(at)) is not None]
    if reasons:
        return TimedCheck(rule.meta.check(Verdict.BLOCK, "; ".join(reasons)), constraints)
    local = ", ".join(f"{at.astimezone(z):%a %H:%M} {z.key}" for z in zones)
    note = " (Sunday and holiday ban waived: prior express consent)" if waived else ""
    return TimedCheck(rule.meta.check(Verdict.PASS, f"open at {local}{note}"), constraints)


def check_frequency_cap(ctx: GateContext, rule: FrequencyCapRule) -> TimedCheck:
    if not ctx.covers(rule):
        return TimedCheck(ctx.out_of_scope(rule), ())
    facts = ctx.facts
    since = ctx.at - rule.period
    counted = sorted(a for a in facts.recent_attempts if a > since)
    hours = int(rule.period.total_seconds() // 3600)
    if len(counted) < rule.max_attempts:
        detail = f"{len(counted)} of {rule.max_attempts} attempts in {hours} h"
        return TimedCheck(rule.meta.check(Verdict.PASS, detail), ())
    opens_at = counted[len(counted) - rule.max_attempts] + rule.period
    reason = f"{len(counted)} attempts in {hours} h (at most {rule.max_attempts}); next after {opens_at.isoformat()}"
    return TimedCheck(rule.meta.check(Verdict.BLOCK, reason), (NotBefore(opens_at, reason),))
