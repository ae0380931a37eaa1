"""Routes: /api/v1/dnc (the internal Do-Not-Call list, and imports of registry copies).

The internal list has no DELETE: a number leaves it by a withdrawal (``POST /dnc/withdrawals``), a new event,
and its requests stay on record. A registry upload is stored and imported by a background job; poll
``GET /dnc/imports/{importId}`` for its outcome.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.consents_api import query_phone
from compliance.deps import requester_of
from compliance.imports import parse_area_codes, parse_list_name
from compliance.internal_dnc import NotOnInternalList, internal_statuses, record_do_not_call, withdraw_do_not_call
from compliance.models import DoNotCallRequest, DoNotCallWithdrawal, RegistryArea, RegistryImport, RegistryList
from compliance.registry_files import ListKind
from compliance.registry_imports import JOB_NAME, UploadTooLarge, new_import, store_upload
from compliance.schemas import (
    DncRequestIn,
    DncRequestOut,
    DncWithdrawalIn,
    DncWithdrawalOut,
    RegistryCopyOut,
    RegistryImportOut,
)
from seiketsu.auth.deps import Principal, get_container, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import Conflict, FieldError, NotFound, ValidationFailed
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort
from seiketsu.schemas import Page

router = APIRouter(prefix="/api/v1/dnc", tags=["compliance"])

REQUEST_SORT = {f.name: f for f in (datetime_field("requestedAt", DoNotCallRequest.requested_at),)}
IMPORT_SORT = {f.name: f for f in (datetime_field("createdAt", RegistryImport.created_at),)}


@router.get("", response_model=Page[DncRequestOut])
def list_requests(
    phone: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.LEAD_READ)),
    session: Session = Depends(scoped_session),
) -> Page[DncRequestOut]:
    """Every request ever recorded, newest first, each saying whether it still keeps its number listed."""
    keys = parse_sort(None, REQUEST_SORT, default="-requestedAt")
    query = sa.select(DoNotCallRequest)
    if phone:
        query = query.where(col(DoNotCallRequest.phone) == query_phone(phone))
    rows, next_cursor = paginate(session, query, keys=keys, id_column=DoNotCallRequest.id, limit=limit, cursor=cursor)
    statuses = internal_statuses(session, {row.phone for row in rows})
    items = []
    for row in rows:
        status = statuses.get(row.phone)
        since = status.listed_since if status is not None else None
        item = DncRequestOut.model_validate(row)
        items.append(item.model_copy(update={"active": since is not None and row.requested_at >= since}))
    return Page(items=items, next_cursor=next_cursor)


@router.post("", response_model=DncRequestOut, status_code=201)
def add_request(
    body: DncRequestIn,
    principal: Principal = Depends(require(Permission.LEAD_UPDATE)),
    session: Session = Depends(scoped_session),
) -> DoNotCallRequest:
    """Put a number on the internal list, honoured from this moment (idempotent while it is listed)."""
    entry = record_do_not_call(
        session,
        phone=body.phone,
        source=body.source,
        requested_at=body.requested_at or utcnow(),
        note=body.note,
        recorded_by=requester_of(principal).label,
    )
    session.commit()
    return entry


@router.post("/withdrawals", response_model=DncWithdrawalOut, status_code=201)
def withdraw(
    body: DncWithdrawalIn,
    principal: Principal = Depends(require(Permission.LEAD_MANAGE)),
    session: Session = Depends(scoped_session),
) -> DoNotCallWithdrawal:
    """The consumer asked to be contacted again: take the number off the list (its requests stay on record)."""
    try:
        withdrawal = withdraw_do_not_call(
            session, phone=body.phone, source=body.source, reason=body.reason, recorded_by=requester_of(principal).label
        )
    except NotOnInternalList as exc:
        raise Conflict(str(exc)) from exc
    session.commit()
    return withdrawal


@router.post("/imports", response_model=RegistryImportOut, status_code=202)
def upload_registry_file(
    file: UploadFile = File(description="flat file (zipped or not): one number per line, or AAA,NNNNNNN lines"),
    list_name: str = Form(alias="list", description="national or state:XX"),
    as_of: date = Form(alias="asOf", description="the date the registry produced this copy"),
    kind: ListKind = Form(default=ListKind.FULL),
    area_codes: str | None = Form(default=None, alias="areaCodes", description="comma-separated, beyond the file's"),
    principal: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> RegistryImport:
    """Store the file and queue its import; the answer is the queued import record."""
    errors = []
    try:
        name = parse_list_name(list_name)
    except ValueError as exc:
        errors.append(FieldError("body.list", str(exc)))
    try:
        declared = parse_area_codes(area_codes)
    except ValueError as exc:
        errors.append(FieldError("body.areaCodes", str(exc)))
    if as_of > utcnow().date() + timedelta(days=1):
        errors.append(FieldError("body.asOf", "must not be in the future"))
    if errors:
        raise ValidationFailed(errors)
    record = new_import(
        session,
        list_name=name,
        kind=kind,
        as_of=as_of,
        file_name=file.filename or "upload",
        declared_area_codes=declared,
        requested_by=requester_of(principal).label,
    )
    try:
        store_upload(session, record, file.file)
    except UploadTooLarge as exc:
        raise ValidationFailed([FieldError("body.file", f"{exc}: import it with `seiketsu dnc import`")]) from exc
    container.jobs.enqueue(session, JOB_NAME, {"import_id": str(record.id)})
    session.commit()
    return record


@router.get("/imports", response_model=Page[RegistryImportOut])
def list_imports(
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.LEAD_READ)),
    session: Session = Depends(scoped_session),
) -> Page[RegistryImport]:
    keys = parse_sort(None, IMPORT_SORT, default="-createdAt")
    items, next_cursor = paginate(
        session, sa.select(RegistryImport), keys=keys, id_column=RegistryImport.id, limit=limit, cursor=cursor
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/imports/{import_id}", response_model=RegistryImportOut)
def read_import(
    import_id: uuid.UUID,
    _: Principal = Depends(require(Permission.LEAD_READ)),
    session: Session = Depends(scoped_session),
) -> RegistryImport:
    record = session.get(RegistryImport, import_id)
    if record is None:
        raise NotFound("registry import not found")
    return record


@router.get("/registries", response_model=Page[RegistryCopyOut])
def list_registry_copies(
    _: Principal = Depends(require(Permission.LEAD_READ)),
    session: Session = Depends(scoped_session),
) -> Page[RegistryCopyOut]:
    """The registry copies held (one item per list, all on one page): how many area codes each covers and the
    oldest and newest copy dates."""
    rows = session.execute(
        sa.select(
            col(RegistryList.name),
            sa.func.count(col(RegistryArea.area_code)),
            sa.func.min(col(RegistryArea.as_of)),
            sa.func.max(col(RegistryArea.as_of)),
        )
        .outerjoin(RegistryArea, col(RegistryArea.list_id) == col(RegistryList.id))
        .group_by(col(RegistryList.name))
        .order_by(col(RegistryList.name))
    )
    copies = [
        RegistryCopyOut(list_name=name, area_codes=count, oldest_as_of=oldest, newest_as_of=newest)
        for name, count, oldest, newest in rows
    ]
    return Page(items=copies)
