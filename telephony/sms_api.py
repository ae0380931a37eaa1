"""Route: GET /api/v1/leads/{lead_id}/messages (the texts to and from a lead, newest first)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.deps import Principal, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.leads.api import get_lead
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort
from seiketsu.schemas import CamelModel, Page
from telephony.sms_models import SmsDirection, SmsKind, SmsMessage, SmsStatus

router = APIRouter(prefix="/api/v1", tags=["messages"])

SORT_FIELDS = {f.name: f for f in (datetime_field("createdAt", SmsMessage.created_at),)}


class SmsMessageOut(CamelModel):
    id: uuid.UUID
    message_sid: str | None
    direction: SmsDirection
    kind: SmsKind
    call_id: uuid.UUID | None
    from_number: str
    to_number: str
    body: str
    status: SmsStatus
    intent: str | None
    gate_decision_id: str | None
    error_code: int | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


@router.get("/leads/{lead_id}/messages", response_model=Page[SmsMessageOut])
def lead_messages(
    lead_id: uuid.UUID,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.LEAD_READ, Permission.VOICE_READ)),
    session: Session = Depends(scoped_session),
) -> Page[SmsMessage]:
    get_lead(session, lead_id)
    query = sa.select(SmsMessage).where(col(SmsMessage.lead_id) == lead_id)
    keys = parse_sort(None, SORT_FIELDS, default="-createdAt")
    items, next_cursor = paginate(session, query, keys=keys, id_column=SmsMessage.id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)
