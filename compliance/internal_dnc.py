"""The organization's internal Do-Not-Call list: requests recorded when made and honoured at once.

A number is on the list from its first request after its latest withdrawal. Nothing is ever removed: leaving the
list is a ``DoNotCallWithdrawal`` row, and an established business relationship stays ended by the request.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.errors import ComplianceError
from compliance.models import DoNotCallRequest, DoNotCallWithdrawal
from compliance.phones import to_e164
from seiketsu.db import utcnow

SOURCES = ("api", "call", "sms", "agent", "web")


class NotOnInternalList(ComplianceError):
    """A withdrawal was asked for a number that is not on the internal list."""


@dataclass(frozen=True, slots=True)
class InternalDncStatus:
    """What the list says about one number."""

    listed_since: datetime | None
    """The first request since the latest withdrawal, or None when the number is not on the list."""
    last_request_at: datetime | None
    """The latest request ever made, withdrawn or not (it ends an established business relationship)."""
    active_sources: frozenset[str] = frozenset()
    """How the requests that keep the number listed came."""

    @property
    def listed(self) -> bool:
        return self.listed_since is not None


NOT_LISTED = InternalDncStatus(listed_since=None, last_request_at=None)


def record_do_not_call(
    session: Session, *, phone: str, source: str, requested_at: datetime, note: str = "", recorded_by: str = "system"
) -> DoNotCallRequest:
    """Put ``phone`` on the session organization's internal list, effective at once.

    Idempotent while the number is listed: the request that listed it is returned and nothing is added.
    Raises InvalidPhoneNumberError for a number that cannot be normalised.
    """
    e164 = to_e164(phone)
    active = _active_requests(session, e164)
    if active:
        return active[0]
    entry = DoNotCallRequest(
        phone=e164, source=source, requested_at=requested_at, note=note[:500], recorded_by=recorded_by[:80]
    )
    session.add(entry)
    session.flush()
    return entry


def withdraw_do_not_call(
    session: Session,
    *,
    phone: str,
    source: str,
    reason: str,
    recorded_by: str,
    withdrawn_at: datetime | None = None,
) -> DoNotCallWithdrawal:
    """Take ``phone`` off the list by a withdrawal event; its requests stay on record.

    Raises NotOnInternalList when the number is not listed, InvalidPhoneNumberError for a bad number.
    """
    e164 = to_e164(phone)
    if not _active_requests(session, e164):
        raise NotOnInternalList("the number is not on the internal Do-Not-Call list")
    withdrawal = DoNotCallWithdrawal(
        phone=e164,
        withdrawn_at=withdrawn_at or utcnow(),
        source=source,
        reason=reason[:500],
        recorded_by=recorded_by[:80],
    )
    session.add(withdrawal)
    session.flush()
    return withdrawal


def is_on_internal_list(session: Session, phone: str) -> bool:
    return bool(_active_requests(session, to_e164(phone)))


def internal_statuses(
    session: Session, phones: Collection[str], *, at: datetime | None = None
) -> dict[str, InternalDncStatus]:
    """The list's answer for each E.164 number (absent numbers are not listed), in two queries.

    Every request counts, even one recorded after ``at``; a withdrawal counts from its own time only.
    """
    if not phones:
        return {}
    wanted = list(set(phones))
    withdrawals: dict[str, datetime] = {}
    query = sa.select(col(DoNotCallWithdrawal.phone), sa.func.max(col(DoNotCallWithdrawal.withdrawn_at))).where(
        col(DoNotCallWithdrawal.phone).in_(wanted)
    )
    if at is not None:
        query = query.where(col(DoNotCallWithdrawal.withdrawn_at) <= at)
    for phone, latest in session.execute(query.group_by(col(DoNotCallWithdrawal.phone))):
        withdrawals[phone] = latest
    requests = session.execute(
        sa.select(col(DoNotCallRequest.phone), col(DoNotCallRequest.requested_at), col(DoNotCallRequest.source))
        .where(col(DoNotCallRequest.phone).in_(wanted))
        .order_by(col(DoNotCallRequest.requested_at))
    )
    by_phone: dict[str, list[tuple[datetime, str]]] = {}
    for phone, requested_at, source in requests:
        by_phone.setdefault(phone, []).append((requested_at, source))
    return {phone: status_of(found, withdrawals.get(phone)) for phone, found in by_phone.items()}


def status_of(requests: Iterable[tuple[datetime, str]], latest_withdrawal: datetime | None) -> InternalDncStatus:
    """The list's answer from a number's requests (time, source) and its latest withdrawal."""
    since: datetime | None = None
    last: datetime | None = None
    sources: set[str] = set()
    for requested_at, source in sorted(requests):
        last = requested_at
        if latest_withdrawal is None or requested_at >= latest_withdrawal:
            since = since or requested_at
            sources.add(source)
    return InternalDncStatus(listed_since=since, last_request_at=last, active_sources=frozenset(sources))


def _active_requests(session: Session, e164: str) -> list[DoNotCallRequest]:
    """The requests that keep ``e164`` listed, earliest first."""
    latest_withdrawal = (
        sa.select(sa.func.max(col(DoNotCallWithdrawal.withdrawn_at)))
        .where(col(DoNotCallWithdrawal.phone) == e164)
        .scalar_subquery()
    )
    query = (
        sa.select(DoNotCallRequest)
        .where(col(DoNotCallRequest.phone) == e164)
        .where(sa.or_(latest_withdrawal.is_(None), col(DoNotCallRequest.requested_at) >= latest_withdrawal))
        .order_by(col(DoNotCallRequest.requested_at))
    )
    return list(session.scalars(query))
