"""Routes: /api/v1/voice/sessions (calls, with transcript, qualification and latencies) and a lead's calls."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.deps import Principal, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.errors import NotFound
from seiketsu.leads.api import get_lead
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort
from seiketsu.schemas import CamelModel, Page, UtcDateTime, WireKeyed
from telephony.models import Call, CallDirection, CallOutcome, CallStatus, TranscriptLine

router = APIRouter(prefix="/api/v1", tags=["voice"])

SORT_FIELDS = {f.name: f for f in (datetime_field("createdAt", Call.created_at),)}


class TranscriptLineOut(CamelModel):
    speaker: str
    text: str
    start_ms: int
    end_ms: int
    interrupted: bool


class CallOut(CamelModel):
    id: uuid.UUID
    call_sid: str | None
    direction: CallDirection
    from_number: str
    to_number: str
    lead_id: uuid.UUID | None
    status: CallStatus
    outcome: CallOutcome | None
    purpose: str | None
    answered_by: str | None
    gate_decision_id: str | None
    qualification: WireKeyed
    duration_seconds: int | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    created_at: datetime


class CallDetailOut(CallOut):
    latencies: list[WireKeyed]
    provider_failures: list[str]
    transcript: list[TranscriptLineOut]


def _calls(
    session: Session,
    *,
    lead_id: uuid.UUID | None,
    direction: CallDirection | None,
    outcome: list[CallOutcome] | None,
    created_from: datetime | None,
    created_to: datetime | None,
    limit: int,
    cursor: str | None,
) -> Page[Call]:
    query = sa.select(Call)
    if lead_id is not None:
        query = query.where(col(Call.lead_id) == lead_id)
    if direction is not None:
        query = query.where(col(Call.direction) == direction)
    if outcome:
        query = query.where(col(Call.outcome).in_(outcome))
    if created_from:
        query = query.where(col(Call.created_at) >= created_from)
    if created_to:
        query = query.where(col(Call.created_at) < created_to)
    keys = parse_sort(None, SORT_FIELDS, default="-createdAt")
    items, next_cursor = paginate(session, query, keys=keys, id_column=Call.id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/voice/sessions", response_model=Page[CallOut])
def list_calls(
    lead_id: uuid.UUID | None = Query(default=None, alias="leadId"),
    direction: CallDirection | None = Query(default=None),
    outcome: list[CallOutcome] | None = Query(default=None),
    created_from: UtcDateTime | None = Query(default=None, alias="createdFrom"),
    created_to: UtcDateTime | None = Query(default=None, alias="createdTo"),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.VOICE_READ)),
    session: Session = Depends(scoped_session),
) -> Page[Call]:
    return _calls(
        session,
        lead_id=lead_id,
        direction=direction,
        outcome=outcome,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )


@router.get("/voice/sessions/{call_id}", response_model=CallDetailOut)
def get_call(
    call_id: uuid.UUID,
    _: Principal = Depends(require(Permission.VOICE_READ)),
    session: Session = Depends(scoped_session),
) -> CallDetailOut:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound("call not found")
    lines = session.scalars(
        sa.select(TranscriptLine).where(col(TranscriptLine.call_id) == call.id).order_by(col(TranscriptLine.seq))
    )
    return CallDetailOut.model_validate(
        {
            **CallOut.model_validate(call).model_dump(),
            "latencies": call.latencies,
            "provider_failures": call.provider_failures,
            "transcript": [TranscriptLineOut.model_validate(line) for line in lines],
        }
    )


@router.get("/leads/{lead_id}/conversations", response_model=Page[CallOut])
def lead_conversations(
    lead_id: uuid.UUID,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.LEAD_READ, Permission.VOICE_READ)),
    session: Session = Depends(scoped_session),
) -> Page[Call]:
    get_lead(session, lead_id)
    return _calls(
        session,
        lead_id=lead_id,
        direction=None,
        outcome=None,
        created_from=None,
        created_to=None,
        limit=limit,
        cursor=cursor,
    )
