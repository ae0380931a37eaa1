"""Lead writes shared by the API, calls, texts and inbound webhooks."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.db import utcnow
from seiketsu.errors import Conflict, FieldError, ValidationFailed
from seiketsu.events import EventBus
from seiketsu.leads.events import LEAD_CREATED, lead_payload
from seiketsu.leads.models import Lead


def find_by_phone(session: Session, phone: str) -> Lead | None:
    return session.scalars(sa.select(Lead).where(col(Lead.phone) == phone)).one_or_none()


def create_lead(session: Session, events: EventBus, *, phone: str, **fields: Any) -> Lead:
    """Add a lead to the session's organization and publish ``lead.created`` in the same transaction (the caller
    commits); a phone already on file is a Conflict."""
    if find_by_phone(session, phone) is not None:
        raise Conflict("a lead with this phone number exists")
    lead = Lead(phone=phone, **{k: v for k, v in fields.items() if v is not None})
    session.add(lead)
    session.flush()
    events.publish(session, LEAD_CREATED, lead_payload(lead))
    return lead


_EMPTY_WHEN_NULL: dict[str, Any] = {"first_name": "", "last_name": "", "qualification": {}}
_REQUIRED = {"phone": "phone", "source": "source", "status": "status"}


def update_lead(session: Session, lead: Lead, changes: dict[str, Any]) -> Lead:
    """Apply the fields present in ``changes``; null clears optional fields and empties names."""
    nulls = [
        FieldError(f"body.{wire}", "must not be null")
        for name, wire in _REQUIRED.items()
        if name in changes and changes[name] is None
    ]
    if nulls:
        raise ValidationFailed(nulls)
    changes = {k: (_EMPTY_WHEN_NULL.get(k) if v is None and k in _EMPTY_WHEN_NULL else v) for k, v in changes.items()}
    phone = changes.get("phone")
    if phone is not None and phone != lead.phone and find_by_phone(session, phone) is not None:
        raise Conflict("a lead with this phone number exists")
    for field, value in changes.items():
        setattr(lead, field, value)
    lead.updated_at = utcnow()
    return lead
