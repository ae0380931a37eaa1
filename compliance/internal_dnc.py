"""Recording Do-Not-Call requests on the organization's internal list."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.models import DoNotCallRequest


def record_do_not_call(
    session: Session, *, phone: str, source: str, requested_at: datetime, note: str = ""
) -> DoNotCallRequest:
    """Put ``phone`` on the session organization's internal list (idempotent: the first request is kept)."""
    existing = session.scalars(
        sa.select(DoNotCallRequest).where(col(DoNotCallRequest.phone) == phone)
    ).one_or_none()
    if existing is not None:
        return existing
    entry = DoNotCallRequest(phone=phone, source=source, requested_at=requested_at, note=note[:500])
    session.add(entry)
    session.flush()
    return entry


def is_on_internal_list(session: Session, phone: str) -> bool:
    query = sa.select(col(DoNotCallRequest.id)).where(col(DoNotCallRequest.phone) == phone)
    return session.scalars(query).first() is not None
