"""Routes: /api/v1/consents (the consent ledger: record grants and revocations, read the history)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.deps import requester_of
from compliance.ledger import Evidence, record_grant, record_revocation
from compliance.models import ConsentRecord
from compliance.schemas import ConsentGrantIn, ConsentOut, ConsentRevokeIn
from compliance.vocabulary import ConsentChannel, Purpose
from seiketsu.auth.deps import Principal, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.db import utcnow
from seiketsu.errors import FieldError, ValidationFailed
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort
from seiketsu.phones import InvalidPhoneNumber, normalize_phone
from seiketsu.schemas import Page

router = APIRouter(prefix="/api/v1/consents", tags=["compliance"])

SORT_FIELDS = {f.name: f for f in (datetime_field("occurredAt", ConsentRecord.occurred_at),)}


@router.get("", response_model=Page[ConsentOut])
def list_consents(
    phone: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.LEAD_READ)),
    session: Session = Depends(scoped_session),
) -> Page[ConsentRecord]:
    """The ledger, newest event first; ``phone`` narrows it to one number's history."""
    keys = parse_sort(None, SORT_FIELDS, default="-occurredAt")
    query = sa.select(ConsentRecord)
    if phone:
        query = query.where(col(ConsentRecord.phone) == query_phone(phone))
    items, next_cursor = paginate(session, query, keys=keys, id_column=ConsentRecord.id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.post("", response_model=ConsentOut, status_code=201)
def grant_consent(
    body: ConsentGrantIn,
    principal: Principal = Depends(require(Permission.LEAD_UPDATE)),
    session: Session = Depends(scoped_session),
) -> ConsentRecord:
    record = record_grant(
        session,
        phone=body.phone,
        kind=body.kind,
        channels=body.channels,
        purposes=body.purposes,
        source=body.source,
        granted_at=body.granted_at,
        evidence=Evidence(
            form_url=body.form_url,
            text_shown=body.text_shown,
            ip_address=str(body.ip_address) if body.ip_address is not None else None,
            recording_ref=body.recording_ref,
            agreement_ref=body.agreement_ref,
        ),
        recorded_by=requester_of(principal).label,
        detail=body.detail,
    )
    session.commit()
    return record


@router.post("/revoke", response_model=ConsentOut, status_code=201)
def revoke_consent(
    body: ConsentRevokeIn,
    principal: Principal = Depends(require(Permission.LEAD_UPDATE)),
    session: Session = Depends(scoped_session),
) -> ConsentRecord:
    """Record a revocation, effective at once: every channel and purpose unless narrowed."""
    record = record_revocation(
        session,
        phone=body.phone,
        method=body.method,
        revoked_at=body.revoked_at or utcnow(),
        recorded_by=requester_of(principal).label,
        channels=body.channels or tuple(ConsentChannel),
        purposes=body.purposes or tuple(Purpose),
        detail=body.detail,
    )
    session.commit()
    return record


def query_phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber as exc:
        raise ValidationFailed([FieldError("query.phone", str(exc))]) from exc
