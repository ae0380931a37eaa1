"""Do-Not-Call rules: the internal list, the National Registry, state lists, and the EBR exemption.

Registry lists bind telephone solicitations (marketing) only. Exemptions from a registry:
- an established business relationship, for live calls only (it never suffices for an artificial voice, and
  texts are held to their written consent);
- the consumer's signed written agreement to be called by this seller at this number (47 CFR 64.1200(c)(2)(ii);
  16 CFR 310.4(b)(1)(iii)(B)(1)): prior express written consent in force for the call, whenever it was given and
  whenever the number was registered. It ends only when revoked (the consent ledger and the internal list), so the
  rule reads whether the copy lists the number, never when: copies carry no registration dates.
"""

from __future__ import annotations

from compliance.consent import ConsentKind
from compliance.context import CombinedListing, GateContext
from compliance.decision import Check, Verdict
from compliance.errors import MissingFactError
from compliance.facts import NATIONAL_REGISTRY, state_registry
from compliance.rules import EbrRequiredRule, FederalRule, RuleMeta, StateDncListRule

NATIONAL_COPY_MAX_AGE_DAYS = 31


def check_internal_dnc(ctx: GateContext) -> Check:
    """The organization's own list blocks every call and text, from the moment of the request."""
    entry = ctx.facts.internal_dnc
    if entry is not None:
        meta = ctx.rulebook.meta(FederalRule.INTERNAL_DNC)
        return meta.check(Verdict.BLOCK, f"on the internal Do-Not-Call list since {entry.listed_at.isoformat()}")
    return ctx.fixed(FederalRule.INTERNAL_DNC, Verdict.PASS, "not on the internal Do-Not-Call list")


def check_national_dnc(ctx: GateContext) -> Check:
    if not ctx.is_marketing:
        return ctx.fixed(FederalRule.NATIONAL_DNC, Verdict.SKIP, "binds telephone solicitations only")
    meta = ctx.rulebook.meta(FederalRule.NATIONAL_DNC)
    return _registry_check(ctx, meta=meta, registry=NATIONAL_REGISTRY, label="National DNC Registry", max_age=None)


def check_registry_copy(ctx: GateContext) -> Check:
    """A marketing call that relies on the number's absence from the registry needs a copy at most 31 days old."""
    meta = ctx.rulebook.meta(FederalRule.REGISTRY_COPY)
    if not ctx.is_marketing:
        return ctx.fixed(FederalRule.REGISTRY_COPY, Verdict.SKIP, "binds telephone solicitations only")
    if ctx.is_live_call and ctx.ebr.active:
        return ctx.fixed(
            FederalRule.REGISTRY_COPY, Verdict.SKIP, "registry not relied on: established business relationship"
        )
    listing = ctx.listing(NATIONAL_REGISTRY)
    if listing is None:
        return ctx.fixed(
            FederalRule.REGISTRY_COPY, Verdict.SKIP, "no registry copy supplied (the registry check blocks)"
        )
    if listing.listed:
        return ctx.fixed(FederalRule.REGISTRY_COPY, Verdict.SKIP, "number listed: the registry check decides")
    return _freshness(ctx, meta=meta, listing=listing, max_age=NATIONAL_COPY_MAX_AGE_DAYS)


def check_state_dnc(ctx: GateContext, rule: StateDncListRule) -> Check:
    if not ctx.covers(rule):
        return ctx.out_of_scope(rule)
    return _registry_check(
        ctx,
        meta=rule.meta,
        registry=state_registry(rule.jurisdiction),
        label=f"{rule.jurisdiction} Do-Not-Call list",
        max_age=rule.max_copy_age_days,
    )


def check_ebr_required(ctx: GateContext, rule: EbrRequiredRule) -> Check:
    if not ctx.covers(rule):
        return ctx.out_of_scope(rule)
    if ctx.ebr.active:
        return rule.meta.check(Verdict.PASS, f"established business relationship: {ctx.ebr.detail}")
    return rule.meta.check(Verdict.BLOCK, f"needs an established business relationship: {ctx.ebr.detail}")


def _registry_check(ctx: GateContext, *, meta: RuleMeta, registry: str, label: str, max_age: int | None) -> Check:
    ebr_exempts = ctx.is_live_call and ctx.ebr.active
    if ebr_exempts:
        return meta.check(Verdict.PASS, f"exempt for live calls: established business relationship ({ctx.ebr.detail})")
    listing = ctx.listing(registry)
    if listing is None:
        raise MissingFactError(f"no copy of the {label} supplied")
    if not listing.listed:
        if max_age is not None:
            return _freshness(ctx, meta=meta, listing=listing, max_age=max_age)
        return ctx.rulebook.memo.get(
            ("not_listed", meta.rule_id, label, listing.copy_as_of), _not_listed, meta, label, listing
        )
    listed = f"on the {label} (copy of {listing.copy_as_of})"
    written_on = ctx.consent.granted_on(ConsentKind.WRITTEN)
    if written_on is not None:
        return meta.check(Verdict.PASS, f"{listed}, but written consent of {written_on} to be called is in force")
    revoked_on = ctx.consent.revoked_on
    no_consent = "no written consent in force" + (f" (revoked on {revoked_on})" if revoked_on is not None else "")
    if ctx.ebr.active:
        other = "an established business relationship exempts live calls only"
    else:
        other = f"no other exemption ({ctx.ebr.detail})"
    return meta.check(Verdict.BLOCK, f"{listed}; {no_consent}; {other}")


def _not_listed(meta: RuleMeta, label: str, listing: CombinedListing) -> Check:
    return meta.check(Verdict.PASS, f"not on the {label} (copy of {listing.copy_as_of})")


def _freshness(ctx: GateContext, *, meta: RuleMeta, listing: CombinedListing, max_age: int) -> Check:
    age = (ctx.at.date() - listing.copy_as_of).days
    return ctx.rulebook.memo.get(
        ("freshness", meta.rule_id, listing.copy_as_of, age, max_age), _fresh, meta, listing, age, max_age
    )


def _fresh(meta: RuleMeta, listing: CombinedListing, age: int, max_age: int) -> Check:
    """A function of the copy's date, its age and the age allowed."""
    if age > max_age:
        return meta.check(
            Verdict.BLOCK,
            f"registry copy of {listing.copy_as_of} is {age} days old (at most {max_age}): stale, cannot be relied on",
        )
    return meta.check(Verdict.PASS, f"not listed in the copy of {listing.copy_as_of} ({age} days old)")
