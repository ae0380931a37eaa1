"""Rules about the number itself: it must be valid and in the gate's jurisdiction."""

from __future__ import annotations

from compliance.context import GateContext
from compliance.decision import Check, Verdict
from compliance.phones import PhoneNumber
from compliance.rules import FederalRule


def check_phone(ctx: GateContext) -> Check:
    meta = ctx.rulebook.meta(FederalRule.PHONE)
    if ctx.phone is None:
        return meta.check(Verdict.BLOCK, f"{ctx.phone_error}")
    phone = ctx.phone
    kind = "geographic" if phone.geographic else "non-geographic"
    return meta.check(Verdict.PASS, f"valid {kind} number of region {phone.region}")


def check_jurisdiction(ctx: GateContext) -> Check:
    phone = ctx.require_phone()
    return ctx.rulebook.memo.get(("jurisdiction", phone.region, ctx.states), _jurisdiction, ctx, phone)


def _jurisdiction(ctx: GateContext, phone: PhoneNumber) -> Check:
    """A function of the number's region and the states that apply."""
    meta = ctx.rulebook.meta(FederalRule.JURISDICTION)
    if not phone.in_us_jurisdiction:
        return meta.check(Verdict.BLOCK, f"numbers of region {phone.region} are outside the gate's rules")
    states = ", ".join(ctx.states) or "none known"
    return meta.check(Verdict.PASS, f"region {phone.region}; states whose rules apply: {states}")
