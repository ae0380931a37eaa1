"""Routes: /api/v1/dnc (the internal Do-Not-Call list, and imports of registry copies).

The internal list has no DELETE: a number leaves it by a withdrawal (``POST /dnc/withdrawals``), a new event,
and its requests stay on record. A registry upload is stored and imported by a background job; poll
``GET /dnc/imports/{importId}`` for its outcome.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.consents_api import query_phone
from compliance.deps import requester_of
from compliance.imports import parse_area_codes, parse_list_name
from compliance.internal_dnc import NotOnInternalList, internal_statuses, record_do_not_call, withdraw_do_not_call
from compliance.models import DoNotCallRequest, DoNotCallWithdrawal, RegistryArea, RegistryImport, RegistryList
from compliance.registry_files import ListKind
from compliance.registry_imports import JOB_NAME, new_import, store_upload
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
from seiketsu.tenancy.scoping import tenant_session
from seiketsu.uploads import receive_upload

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


_UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "list", "asOf"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "flat file (zipped or not): one number per line, or AAA,NNNNNNN lines",
                        },
                        "list": {"type": "string", "description": "national or state:XX"},
                        "asOf": {"type": "string", "format": "date", "description": "the date of this copy"},
                        "kind": {"type": "string", "enum": [k.value for k in ListKind], "default": "full"},
                        "areaCodes": {"type": "string", "description": "comma-separated, beyond the file's"},
                    },
                }
            }
        },
    }
}


@dataclass(frozen=True, slots=True)
class _UploadForm:
    list_name: str
    kind: ListKind
    as_of: date
    area_codes: frozenset[str]


def _upload_form(fields: dict[str, str]) -> _UploadForm:
    errors = []
    name, kind, as_of, declared = "", ListKind.FULL, date.min, frozenset[str]()
    try:
        name = parse_list_name(fields.get("list", ""))
    except ValueError as exc:
        errors.append(FieldError("body.list", str(exc)))
    try:
        kind = ListKind(fields.get("kind") or ListKind.FULL.value)
    except ValueError:
        errors.append(FieldError("body.kind", f"one of {', '.join(k.value for k in ListKind)}"))
    try:
        as_of = date.fromisoformat(fields.get("asOf", ""))
    except ValueError:
        errors.append(FieldError("body.asOf", "a date (YYYY-MM-DD) is required"))
    else:
        if as_of > utcnow().date() + timedelta(days=1):
            errors.append(FieldError("body.asOf", "must not be in the future"))
    try:
        declared = parse_area_codes(fields.get("areaCodes") or None)
    except ValueError as exc:
        errors.append(FieldError("body.areaCodes", str(exc)))
    if errors:
        raise ValidationFailed(errors)
    return _UploadForm(list_name=name, kind=kind, as_of=as_of, area_codes=declared)


@router.post("/imports", response_model=RegistryImportOut, status_code=202, openapi_extra=_UPLOAD_FORM)
async def upload_registry_file(
    request: Request,
    principal: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    container: Container = Depends(get_container),
) -> RegistryImportOut:
    """Store the file and queue its import; the answer is the queued import record. The file is streamed to disk
    (at most ``REGISTRY_UPLOAD_MAX_BYTES``, else 413) and stored in the database on the imports' file lane."""
    async with receive_upload(
        request,
        container.imports,
        organization_id=principal.organization_id,
        fields=("list", "asOf", "kind", "areaCodes"),
        max_bytes=container.settings.registry_upload_max_bytes,
        limit_name="REGISTRY_UPLOAD_MAX_BYTES",
    ) as upload:
        form = _upload_form(upload.fields)
        return await container.imports.files.run(_store, container, principal, form, upload.filename, upload.file)


def _store(
    container: Container, principal: Principal, form: _UploadForm, filename: str, file: IO[bytes]
) -> RegistryImportOut:
    with tenant_session(container.sessions, principal.organization_id) as session:
        record = new_import(
            session,
            list_name=form.list_name,
            kind=form.kind,
            as_of=form.as_of,
            file_name=filename or "upload",
            declared_area_codes=form.area_codes,
            requested_by=requester_of(principal).label,
        )
        store_upload(session, record, file, max_bytes=container.settings.registry_upload_max_bytes)
        container.jobs.enqueue(session, JOB_NAME, {"import_id": str(record.id)})
        session.commit()
        return RegistryImportOut.model_validate(record)


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
