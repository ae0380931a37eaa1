"""What an inbound text does to consent and to the internal Do-Not-Call list (the SMS webhook calls this).

- An opt-out (STOP and the other keywords, or free text a reasonable person means as "stop") puts the number on
  the internal list at once and revokes consent to texts. One confirmation text without marketing may follow
  within 5 minutes (47 CFR 64.1200(a)(12)): the outcome says whether one may still be sent, and the text itself
  needs a permit asked with ``opt_out_confirmation=True``.
- START, UNSTOP or YES records a re-subscription: prior express consent to texts (marketing texts still need
  written consent), and withdraws the number's Do-Not-Call requests when every one of them came by text. A request
  made on a call or through the API stays: a text cannot undo it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.consent import ConsentKind
from compliance.consent_rules import OPT_OUT_CONFIRMATION_WINDOW
from compliance.internal_dnc import internal_statuses, record_do_not_call, withdraw_do_not_call
from compliance.ledger import Evidence, GrantSource, RevocationMethod, record_grant, record_revocation
from compliance.models import GateDecision
from compliance.phones import to_e164
from compliance.sms_keywords import SmsIntent, explain_sms
from compliance.vocabulary import ConsentChannel, Purpose

SMS_SOURCE = "sms"
RECORDED_BY = "system:sms"


@dataclass(frozen=True, slots=True)
class SmsReplyOutcome:
    intent: SmsIntent
    reason: str
    """Which wording matched (kept in the ledger as evidence)."""
    may_confirm: bool = False
    """An opt-out whose one confirmation text has not been sent yet."""
    confirm_by: datetime | None = None
    """The last moment a confirmation text may be sent."""
    resubscribed: bool = False
    """Texts may be sent again (an opt-in with no remaining Do-Not-Call request)."""


def record_sms_reply(session: Session, *, phone: str, text: str, at: datetime) -> SmsReplyOutcome:
    """Apply an inbound text from ``phone`` in the session's organization; the caller commits.

    Raises InvalidPhoneNumberError when ``phone`` is not a valid number.
    """
    e164 = to_e164(phone)
    classified = explain_sms(text)
    if classified.intent is SmsIntent.OPT_OUT:
        method = RevocationMethod.FREE_TEXT if "free-text" in classified.reason else RevocationMethod.SMS_KEYWORD
        record_do_not_call(
            session, phone=e164, source=SMS_SOURCE, requested_at=at, note=classified.reason, recorded_by=RECORDED_BY
        )
        record_revocation(
            session,
            phone=e164,
            method=method,
            revoked_at=at,
            recorded_by=RECORDED_BY,
            channels=(ConsentChannel.SMS,),
            detail=text[:1000],
        )
        confirmed = _confirmations_since(session, e164, at - OPT_OUT_CONFIRMATION_WINDOW)
        return SmsReplyOutcome(
            intent=classified.intent,
            reason=classified.reason,
            may_confirm=confirmed == 0,
            confirm_by=at + OPT_OUT_CONFIRMATION_WINDOW if confirmed == 0 else None,
        )
    if classified.intent is SmsIntent.OPT_IN:
        record_grant(
            session,
            phone=e164,
            kind=ConsentKind.EXPRESS,
            channels=(ConsentChannel.SMS,),
            purposes=tuple(Purpose),
            source=GrantSource.SMS,
            granted_at=at,
            evidence=Evidence(),
            recorded_by=RECORDED_BY,
            detail=text[:1000],
        )
        status = internal_statuses(session, [e164]).get(e164)
        listed = status is not None and status.listed
        if listed and status is not None and status.active_sources <= {SMS_SOURCE}:
            withdraw_do_not_call(
                session,
                phone=e164,
                source=SMS_SOURCE,
                reason=f"re-subscribed by text: {classified.reason}",
                recorded_by=RECORDED_BY,
                withdrawn_at=at,
            )
            listed = False
        return SmsReplyOutcome(intent=classified.intent, reason=classified.reason, resubscribed=not listed)
    return SmsReplyOutcome(intent=classified.intent, reason=classified.reason)


def _confirmations_since(session: Session, phone: str, since: datetime) -> int:
    """Confirmation texts the gate has permitted to ``phone`` since ``since``."""
    count = session.scalar(
        sa.select(sa.func.count(col(GateDecision.id))).where(
            col(GateDecision.phone) == phone,
            col(GateDecision.opt_out_confirmation).is_(True),
            col(GateDecision.permit_expires_at).is_not(None),
            col(GateDecision.decided_at) >= since,
        )
    )
    return int(count or 0)

