"""Established business relationship (47 CFR 64.1200(f)(5)): 18 months after a transaction, 3 months after an
inquiry, ended by any Do-Not-Call request made after it began."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

INQUIRY_MONTHS = 3
TRANSACTION_MONTHS = 18


@dataclass(frozen=True, slots=True)
class BusinessRelationship:
    """What the lead's history says; the database layer fills it in."""

    last_inquiry_at: datetime | None = None
    last_transaction_at: datetime | None = None
    last_dnc_request_at: datetime | None = None
    """The latest Do-Not-Call request ever made by the consumer, even one since withdrawn."""


@dataclass(frozen=True, slots=True)
class EbrStatus:
    active: bool
    detail: str
    expires_at: datetime | None = None


NO_RELATIONSHIP = EbrStatus(active=False, detail="no inquiry or transaction on record")


def ebr_status(
    relationship: BusinessRelationship, *, at: datetime, dnc_requested_at: datetime | None = None
) -> EbrStatus:
    """Whether an EBR is in force at ``at``. ``dnc_requested_at`` adds a DNC request known from elsewhere."""
    if relationship.last_transaction_at is None and relationship.last_inquiry_at is None:
        return NO_RELATIONSHIP
    requests = [t for t in (relationship.last_dnc_request_at, dnc_requested_at) if t is not None]
    ended_by = max(requests) if requests else None
    reasons: list[str] = []
    best: EbrStatus | None = None
    for label, began, months in (
        ("transaction", relationship.last_transaction_at, TRANSACTION_MONTHS),
        ("inquiry", relationship.last_inquiry_at, INQUIRY_MONTHS),
    ):
        if began is None:
            continue
        expires = add_months(began, months)
        if began > at:
            reasons.append(f"{label} on {began.date()} is after the call")
        elif at >= expires:
            reasons.append(f"{label} on {began.date()} expired {expires.date()} ({months} months)")
        elif ended_by is not None and ended_by >= began:
            reasons.append(f"{label} on {began.date()} ended by a Do-Not-Call request on {ended_by.date()}")
        elif best is None or best.expires_at is None or expires > best.expires_at:
            best = EbrStatus(
                active=True,
                detail=f"{label} on {began.date()}, valid until {expires.date()} ({months} months)",
                expires_at=expires,
            )
    if best is not None:
        return best
    return EbrStatus(active=False, detail="; ".join(reasons) or "no inquiry or transaction on record")


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months, the day clamped to the target month's length (Nov 30 + 3 = Feb 28)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
