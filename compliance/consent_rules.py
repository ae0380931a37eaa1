"""Consent rules: what consent a call or text needs, and the Reassigned Numbers Database check."""

from __future__ import annotations

from datetime import date, timedelta

from compliance.consent import ConsentKind, ConsentStatus
from compliance.context import GateContext
from compliance.decision import Check, Verdict
from compliance.facts import ReassignedStatus
from compliance.rules import FederalRule
from compliance.vocabulary import Channel, ConsentChannel, Purpose

OPT_OUT_CONFIRMATION_WINDOW = timedelta(minutes=5)

_WHAT = {
    ConsentChannel.ARTIFICIAL_VOICE_CALL: "artificial-voice calls",
    ConsentChannel.LIVE_CALL: "live calls",
    ConsentChannel.SMS: "texts",
}


def check_consent(ctx: GateContext) -> Check:
    """Artificial-voice calls and texts need prior express consent, written for marketing (FCC 24-17:
    an AI voice is an artificial voice). Live calls need none, but a revocation of them is honoured."""
    what = f"{ctx.facts.purpose} {_WHAT[ctx.consent_channel]}"
    consent = ctx.consent
    if ctx.needed_consent is None:
        meta = ctx.rulebook.meta(FederalRule.REVOCATION)
        if consent.status is ConsentStatus.REVOKED:
            return meta.check(Verdict.BLOCK, f"consent to {what} revoked on {_day_text(consent.revoked_on)}")
        return meta.check(Verdict.PASS, f"{what} need no prior consent; {consent.describe()}")
    rule = consent_rule(ctx)
    meta = ctx.rulebook.meta(rule)
    needed = "prior express written consent" if rule is FederalRule.WRITTEN_CONSENT else "prior express consent"
    if consent.satisfies(ctx.needed_consent):
        return meta.check(Verdict.PASS, f"{what}: {consent.describe()}")
    if consent.status is ConsentStatus.REVOKED:
        return meta.check(Verdict.BLOCK, f"{what} need {needed}; revoked on {_day_text(consent.revoked_on)}")
    return meta.check(Verdict.BLOCK, f"{what} need {needed}; {consent.describe()}")


def check_reassigned_number(ctx: GateContext) -> Check:
    """Block when the Reassigned Numbers Database reports a disconnection after the consent relied upon."""
    meta = ctx.rulebook.meta(FederalRule.REASSIGNED_NUMBERS)
    consent_day = ctx.consent.granted_on(ctx.needed_consent or ConsentKind.EXPRESS)
    if consent_day is None:
        return ctx.fixed(FederalRule.REASSIGNED_NUMBERS, Verdict.SKIP, "no consent relied upon")
    result = ctx.facts.reassigned_number
    if result is None:
        return ctx.fixed(FederalRule.REASSIGNED_NUMBERS, Verdict.SKIP, "database not queried (no safe harbor claimed)")
    if result.queried_since > consent_day:
        return meta.check(
            Verdict.BLOCK,
            f"query covers disconnections since {result.queried_since} only; consent dates from {consent_day}",
        )
    if result.status is ReassignedStatus.DISCONNECTED:
        if result.disconnected_on is None or result.disconnected_on > consent_day:
            on = result.disconnected_on or "an unreported date"
            return meta.check(Verdict.BLOCK, f"number disconnected on {on}, after consent on {consent_day}")
        return meta.check(
            Verdict.PASS, f"last disconnected on {result.disconnected_on}, before consent on {consent_day}"
        )
    if result.status is ReassignedStatus.NO_DATA:
        return meta.check(Verdict.PASS, "database has no data for the number (no safe harbor)")
    return meta.check(Verdict.PASS, f"not disconnected since {result.queried_since}")


def _day_text(day: date | None) -> str:
    return day.isoformat() if day is not None else "an unknown date"


def consent_rule(ctx: GateContext) -> FederalRule:
    """The consent rule that governs this call or text."""
    if ctx.needed_consent is None:
        return FederalRule.REVOCATION
    if ctx.needed_consent is ConsentKind.WRITTEN:
        return FederalRule.WRITTEN_CONSENT
    return FederalRule.EXPRESS_CONSENT


def check_opt_out_confirmation(ctx: GateContext) -> Check:
    """One text confirming an opt-out, without marketing, within 5 minutes of it (47 CFR 64.1200(a)(12))."""
    meta = ctx.rulebook.meta(FederalRule.OPT_OUT_CONFIRMATION)
    confirmation = ctx.facts.opt_out_confirmation
    if confirmation is None:
        return meta.check(Verdict.SKIP, "not an opt-out confirmation")
    problems = []
    if ctx.facts.channel is not Channel.SMS:
        problems.append("only a text may confirm an opt-out")
    if ctx.facts.purpose is not Purpose.INFORMATIONAL:
        problems.append("a confirmation must carry no marketing")
    elapsed = ctx.at - confirmation.opted_out_at
    if elapsed < timedelta(0):
        problems.append("the opt-out is later than the confirmation")
    elif elapsed > OPT_OUT_CONFIRMATION_WINDOW:
        problems.append(f"{int(elapsed.total_seconds())} s after the opt-out (limit 300 s)")
    if confirmation.confirmations_sent > 0:
        problems.append("a confirmation was already sent")
    if problems:
        return meta.check(Verdict.BLOCK, "; ".join(problems))
    return meta.check(Verdict.PASS, f"confirmation {int(elapsed.total_seconds())} s after the opt-out")
