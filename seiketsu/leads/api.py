"""Routes: /api/v1/leads."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.deps import Principal, get_container, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.container import Container
from seiketsu.errors import NotFound
from seiketsu.leads import service
from seiketsu.leads.models import Lead, LeadStatus
from seiketsu.leads.schemas import LeadIn, LeadOut, LeadUpdate
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort, text_field
from seiketsu.schemas import Page, UtcDateTime

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])

SORT_FIELDS = {
    f.name: f
    for f in (
        datetime_field("createdAt", Lead.created_at),
        datetime_field("updatedAt", Lead.updated_at),
        text_field("lastName", Lead.last_name),
        text_field("firstName", Lead.first_name),
        text_field("status", Lead.status),
        text_field("source", Lead.source),
    )
}


def get_lead(session: Session, lead_id: uuid.UUID) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("lead not found")
    return lead


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("", response_model=Page[LeadOut])
def list_leads(
    status: list[LeadStatus] | None = Query(default=None),
    source: str | None = Query(default=None, max_length=50),
    created_from: UtcDateTime | None = Query(default=None, alias="createdFrom"),
    created_to: UtcDateTime | None = Query(default=None, alias="createdTo"),
    q: str | None = Query(default=None, min_length=1, max_length=100),
    sort: str | None = Query(default=None, description="comma-separated fields, '-' for descending"),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.LEAD_READ)),
    session: Session = Depends(scoped_session),
) -> Page[Lead]:
    keys = parse_sort(sort, SORT_FIELDS, default="-createdAt")
    query = sa.select(Lead)
    if status:
        query = query.where(col(Lead.status).in_(status))
    if source:
        query = query.where(col(Lead.source) == source)
    if created_from:
        query = query.where(col(Lead.created_at) >= created_from)
    if created_to:
        query = query.where(col(Lead.created_at) < created_to)
    if q:
        pattern = f"%{_escape_like(q)}%"
        conditions: list[sa.ColumnElement[bool]] = [
            col(Lead.first_name).ilike(pattern, escape="\\"),
            col(Lead.last_name).ilike(pattern, escape="\\"),
            col(Lead.email).ilike(pattern, escape="\\"),
        ]
        digits = re.sub(r"\D", "", q)
        if len(digits) >= 3:
            conditions.append(col(Lead.phone).contains(digits))
        query = query.where(sa.or_(*conditions))
    items, next_cursor = paginate(session, query, keys=keys, id_column=Lead.id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.post("", response_model=LeadOut, status_code=201)
def create_lead(
    body: LeadIn,
    _: Principal = Depends(require(Permission.LEAD_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> Lead:
    fields = body.model_dump(exclude={"phone"}, exclude_none=True)
    lead = service.create_lead(session, container.events, phone=body.phone, **fields)
    session.commit()
    return lead


@router.get("/{lead_id}", response_model=LeadOut)
def read_lead(
    lead_id: uuid.UUID,
    _: Principal = Depends(require(Permission.LEAD_READ)),
    session: Session = Depends(scoped_session),
) -> Lead:
    return get_lead(session, lead_id)


@router.put("/{lead_id}", response_model=LeadOut)
def update_lead(
    lead_id: uuid.UUID,
    body: LeadUpdate,
    _: Principal = Depends(require(Permission.LEAD_UPDATE)),
    session: Session = Depends(scoped_session),
) -> Lead:
    lead = get_lead(session, lead_id)
    service.update_lead(session, lead, body.model_dump(exclude_unset=True))
    session.commit()
    return lead


@router.delete("/{lead_id}", status_code=204)
def delete_lead(
    lead_id: uuid.UUID,
    _: Principal = Depends(require(Permission.LEAD_MANAGE)),
    session: Session = Depends(scoped_session),
) -> Response:
    session.delete(get_lead(session, lead_id))
    session.commit()
    return Response(status_code=204)
