"""What the law asks an artificial-voice call to say and honour, per organization (47 CFR 64.1200(b), (d)(4)).

The telephony layer asks ``duties_for`` when it sets a call up and hands the answer to the agent:

- identification at the start of every artificial-voice call: the business's name and a callback number that
  accepts Do-Not-Call requests;
- for outbound marketing, an interactive opt-out offered right after the identification ("say stop or press 9 to
  be removed"), which records a Do-Not-Call request (``record_do_not_call(..., source="call")``) and ends the
  call. An organization may offer it on every outbound call (``offerOptOutOnAllOutbound``).

Per-organization settings live under ``Organization.settings["compliance"]``: ``businessName`` (default: the
organization's name), ``callbackNumber`` (default: the caller ID of the call), ``optOutDigit`` (default "9"),
``offerOptOutOnAllOutbound`` (default false).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compliance.vocabulary import Purpose, VoiceKind

DEFAULT_OPT_OUT_DIGIT = "9"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True, slots=True)
class DutyPolicy:
    """An organization's choices within the law."""

    business_name: str
    callback_number: str | None = None
    opt_out_digit: str = DEFAULT_OPT_OUT_DIGIT
    opt_out_on_all_outbound: bool = False


@dataclass(frozen=True, slots=True)
class CallDuties:
    identify: bool
    """Say ``business_name`` and ``callback_number`` at the start of the call."""
    business_name: str
    callback_number: str | None
    interactive_opt_out: bool
    """Offer "say stop or press ``opt_out_digit``"; on either, record the request and end the call."""
    opt_out_digit: str


def duty_policy(organization_name: str, settings: Mapping[str, Any] | None) -> DutyPolicy:
    """The policy from an organization's name and its ``settings`` document (bad values fall back to defaults,
    never to fewer duties)."""
    compliance = (settings or {}).get("compliance")
    section: Mapping[str, Any] = compliance if isinstance(compliance, Mapping) else {}
    name = section.get("businessName")
    callback = section.get("callbackNumber")
    digit = section.get("optOutDigit")
    return DutyPolicy(
        business_name=name.strip() if isinstance(name, str) and name.strip() else organization_name,
        callback_number=callback.strip() if isinstance(callback, str) and callback.strip() else None,
        opt_out_digit=digit if isinstance(digit, str) and digit in "0123456789" and len(digit) == 1 else "9",
        opt_out_on_all_outbound=section.get("offerOptOutOnAllOutbound") is True,
    )


def duties_for(
    purpose: Purpose | None,
    direction: Direction,
    *,
    policy: DutyPolicy,
    voice: VoiceKind = VoiceKind.ARTIFICIAL,
    caller_id: str | None = None,
) -> CallDuties:
    """The duties of one call. ``purpose`` is None for an inbound call, which is neither."""
    artificial = voice is VoiceKind.ARTIFICIAL
    outbound = direction is Direction.OUTBOUND
    marketing = purpose is Purpose.MARKETING
    return CallDuties(
        identify=artificial or outbound,
        business_name=policy.business_name,
        callback_number=policy.callback_number or caller_id,
        interactive_opt_out=artificial and outbound and (marketing or policy.opt_out_on_all_outbound),
        opt_out_digit=policy.opt_out_digit,
    )
