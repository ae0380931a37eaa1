"""Routes: /api/v1/campaigns (create from a lead filter or a CSV upload, start, pause, resume, cancel, progress).

``POST /api/v1/campaigns`` takes either JSON (``CampaignIn``: the settings and a ``leadFilter``) or
``multipart/form-data`` with a ``file`` part (the CSV, see ``telephony.campaigns.csv_import``) and a ``campaign``
part holding the settings as JSON. A CSV with any bad row is refused whole (422), each error naming its row as
``file.row.<n>.<column>``; a file over ``CSV_IMPORT_MAX_BYTES`` is refused with 413, over ``CSV_IMPORT_MAX_ROWS``
rows with 422, and an upload while the organization has ``IMPORTS_PER_ORGANIZATION`` running with 429.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from seiketsu.auth.deps import Principal, get_container, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.container import Container
from seiketsu.errors import Conflict, FieldError, NotFound, ValidationFailed
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort, text_field
from seiketsu.schemas import Page
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import tenant_session
from seiketsu.uploads import receive_upload
from telephony.campaigns import service
from telephony.campaigns.csv_import import CsvLead, CsvRejected, parse_leads_csv
from telephony.campaigns.models import Campaign, CampaignLead, CampaignLeadStatus, CampaignStatus
from telephony.campaigns.schedule import CallingSchedule, InvalidSchedule, default_schedule
from telephony.campaigns.schemas import (
    CampaignIn,
    CampaignLeadOut,
    CampaignOut,
    CampaignSettingsIn,
    LeadFilterIn,
    ProgressOut,
)
from telephony.outbound import outbound_numbers, require_twilio_account
from telephony.outbound_runtime import outbound_runtime

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])

SORT_FIELDS = {f.name: f for f in (datetime_field("createdAt", Campaign.created_at),)}
LEAD_SORT_FIELDS = {f.name: f for f in (text_field("phone", CampaignLead.phone),)}


def _invalid(error: ValidationError, prefix: str) -> ValidationFailed:
    return ValidationFailed(
        [FieldError(".".join([prefix, *(str(p) for p in e["loc"])]), e["msg"]) for e in error.errors()]
    )


def _rejected(error: CsvRejected) -> ValidationFailed:
    errors = [FieldError(f"file.row.{e.row}.{e.column}", f"row {e.row}: {e.message}") for e in error.errors]
    shown = "" if error.total == len(errors) else f" (the first {len(errors)} are listed)"
    return ValidationFailed(errors, detail=f"{error.total} error(s) in the file{shown}; nothing was imported")


def _campaign_settings(raw: str | None) -> CampaignSettingsIn:
    if raw is None:
        raise ValidationFailed([FieldError("form.campaign", "the campaign's settings, as JSON, are required")])
    try:
        return CampaignSettingsIn.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc, "form.campaign") from exc


async def _create_from_upload(request: Request, principal: Principal, container: Container) -> CampaignOut:
    """Admitted as one of the organization's imports before the body is read; the file streamed to disk, then
    parsed and stored in an import process (see ``seiketsu.bulk_imports``)."""
    async with receive_upload(
        request,
        container.imports,
        organization_id=principal.organization_id,
        fields=("campaign",),
        max_bytes=container.settings.csv_import_max_bytes,
        limit_name="CSV_IMPORT_MAX_BYTES",
    ) as upload:
        task = _CsvImport(
            organization_id=principal.organization_id,
            created_by=_created_by(principal),
            settings=_campaign_settings(upload.fields.get("campaign")),
            path=upload.path,
            max_rows=container.settings.csv_import_max_rows,
            now=outbound_runtime(container).clock.now(),
        )
        return await container.imports.run(container, _create_from_csv, task)


@dataclass(frozen=True, slots=True)
class _CsvImport:
    organization_id: uuid.UUID
    created_by: str
    settings: CampaignSettingsIn
    path: str
    max_rows: int
    now: datetime


def _create_from_csv(container: Container, task: _CsvImport) -> CampaignOut:
    """Run in an import process, with that process's container."""
    with open(task.path, "rb") as file:
        try:
            rows = parse_leads_csv(file, max_rows=task.max_rows)
        except CsvRejected as exc:
            raise _rejected(exc) from exc
    return _create(
        container,
        organization_id=task.organization_id,
        created_by=task.created_by,
        given=task.settings,
        leads=rows,
        now=task.now,
    )


def _created_by(principal: Principal) -> str:
    return f"user:{principal.user_id}" if principal.user_id else f"api_key:{principal.api_key_id}"


async def _from_json(request: Request) -> tuple[CampaignSettingsIn, service.LeadFilter]:
    try:
        document: Any = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed([FieldError("body", "expected a JSON object")]) from exc
    try:
        body = CampaignIn.model_validate(document)
    except ValidationError as exc:
        raise _invalid(exc, "body") from exc
    return body, _lead_filter(body.lead_filter)


def _lead_filter(given: LeadFilterIn) -> service.LeadFilter:
    return service.LeadFilter(
        statuses=tuple(given.status or ()),
        source=given.source,
        created_from=given.created_from,
        created_to=given.created_to,
        lead_ids=tuple(given.lead_ids or ()),
    )


@router.post("", response_model=CampaignOut, status_code=201)
async def create_campaign(
    request: Request,
    principal: Principal = Depends(require(Permission.VOICE_MANAGE)),
    container: Container = Depends(get_container),
) -> CampaignOut:
    """A draft campaign, from JSON (settings and ``leadFilter``) or a multipart CSV upload (``file``, ``campaign``)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await _create_from_upload(request, principal, container)
    settings, leads = await _from_json(request)
    return await run_in_threadpool(
        partial(
            _create,
            container,
            organization_id=principal.organization_id,
            created_by=_created_by(principal),
            given=settings,
            leads=leads,
            now=outbound_runtime(container).clock.now(),
        )
    )


def _create(
    container: Container,
    *,
    organization_id: uuid.UUID,
    created_by: str,
    given: CampaignSettingsIn,
    leads: service.LeadFilter | Sequence[CsvLead],
    now: datetime,
) -> CampaignOut:
    prefix = "body" if isinstance(leads, service.LeadFilter) else "form.campaign"
    with tenant_session(container.sessions, organization_id) as session:
        org = session.get(Organization, organization_id)
        assert org is not None
        settings = _settings(session, org, given, prefix=prefix)
        try:
            campaign = service.create_campaign(
                session,
                settings=settings,
                leads=leads,
                created_by=created_by,
                now=now,
            )
        except service.NoLeads as exc:
            field = "body.leadFilter" if isinstance(leads, service.LeadFilter) else "form.file"
            raise ValidationFailed([FieldError(field, str(exc))]) from exc
        session.commit()
        return _out(session, campaign)


def _settings(
    session: Session, org: Organization, given: CampaignSettingsIn, *, prefix: str
) -> service.CampaignSettings:
    errors: list[FieldError] = []
    limit = org.max_concurrent_calls
    concurrent = given.max_concurrent_calls or limit
    if concurrent > limit:
        errors.append(FieldError(f"{prefix}.maxConcurrentCalls", f"at most the organization's limit of {limit}"))
    schedule: CallingSchedule = default_schedule(org.timezone)
    if given.schedule is not None:
        try:
            schedule = CallingSchedule.build(
                timezone=given.schedule.timezone or org.timezone,
                days=given.schedule.days,
                start=given.schedule.start,
                end=given.schedule.end,
            )
        except InvalidSchedule as exc:
            errors.append(FieldError(f"{prefix}.schedule", str(exc)))
    if given.from_number is not None and given.from_number not in outbound_numbers(session):
        errors.append(FieldError(f"{prefix}.fromNumber", "not one of the organization's outbound numbers"))
    if errors:
        raise ValidationFailed(errors)
    return service.CampaignSettings(
        name=given.name,
        purpose=given.purpose.value,
        schedule=schedule,
        calls_per_minute=given.calls_per_minute,
        max_concurrent_calls=concurrent,
        max_attempts=given.max_attempts,
        retry_delay=timedelta(minutes=given.retry_delay_minutes),
        from_number=given.from_number,
    )


def _outs(session: Session, campaigns: Sequence[Campaign]) -> list[CampaignOut]:
    found = service.progress(session, [c.id for c in campaigns])
    outs = []
    for campaign in campaigns:
        item = found[campaign.id]
        count = item.by_status.get
        statuses = CampaignLeadStatus
        outs.append(
            CampaignOut(
                id=campaign.id,
                name=campaign.name,
                status=campaign.status,
                purpose=campaign.purpose,
                source=campaign.source,
                lead_filter={k: v for k, v in campaign.lead_filter.items() if v is not None},
                schedule=campaign.schedule,
                calls_per_minute=campaign.calls_per_minute,
                max_concurrent_calls=campaign.max_concurrent_calls,
                max_attempts=campaign.max_attempts,
                retry_delay_minutes=campaign.retry_delay_seconds // 60,
                from_number=campaign.from_number,
                created_at=campaign.created_at,
                started_at=campaign.started_at,
                completed_at=campaign.completed_at,
                progress=ProgressOut(
                    total=item.total,
                    pending=count(statuses.PENDING, 0),
                    dialing=count(statuses.DIALING, 0) + count(statuses.CLAIMED, 0),
                    done=count(statuses.DONE, 0),
                    blocked=count(statuses.BLOCKED, 0),
                    failed=count(statuses.FAILED, 0),
                    canceled=count(statuses.CANCELED, 0),
                    calls_placed=item.calls_placed,
                    percent_complete=round(100 * item.finished / item.total, 1) if item.total else 0.0,
                ),
                outcomes=item.outcomes,
            )
        )
    return outs


def _out(session: Session, campaign: Campaign) -> CampaignOut:
    return _outs(session, [campaign])[0]


def _get(session: Session, campaign_id: uuid.UUID, *, lock: bool = False) -> Campaign:
    campaign = session.get(Campaign, campaign_id, with_for_update=lock)
    if campaign is None:
        raise NotFound("campaign not found")
    return campaign


@router.get("", response_model=Page[CampaignOut])
def list_campaigns(
    status: list[CampaignStatus] | None = Query(default=None),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.VOICE_READ)),
    session: Session = Depends(scoped_session),
) -> Page[CampaignOut]:
    query = sa.select(Campaign)
    if status:
        query = query.where(col(Campaign.status).in_(status))
    keys = parse_sort(None, SORT_FIELDS, default="-createdAt")
    items, next_cursor = paginate(session, query, keys=keys, id_column=Campaign.id, limit=limit, cursor=cursor)
    return Page(items=_outs(session, items), next_cursor=next_cursor)


@router.get("/{campaign_id}", response_model=CampaignOut)
def get_campaign(
    campaign_id: uuid.UUID,
    _: Principal = Depends(require(Permission.VOICE_READ)),
    session: Session = Depends(scoped_session),
) -> CampaignOut:
    return _out(session, _get(session, campaign_id))


@router.get("/{campaign_id}/leads", response_model=Page[CampaignLeadOut])
def list_campaign_leads(
    campaign_id: uuid.UUID,
    status: list[CampaignLeadStatus] | None = Query(default=None),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.VOICE_READ)),
    session: Session = Depends(scoped_session),
) -> Page[CampaignLead]:
    """The campaign's leads, with each one's attempts, latest outcome and, when blocked, the gate's decision."""
    _get(session, campaign_id)
    query = sa.select(CampaignLead).where(col(CampaignLead.campaign_id) == campaign_id)
    if status:
        query = query.where(col(CampaignLead.status).in_(status))
    keys = parse_sort(None, LEAD_SORT_FIELDS, default="phone")
    items, next_cursor = paginate(session, query, keys=keys, id_column=CampaignLead.id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


def _transition(session: Session, container: Container, campaign_id: uuid.UUID, action: str) -> CampaignOut:
    campaign = _get(session, campaign_id, lock=True)
    now = outbound_runtime(container).clock.now()
    if action in ("start", "resume"):
        require_twilio_account(container.settings)
    if action == "start":
        if not outbound_numbers(session):
            raise Conflict("the organization has no outbound phone number to call from")
        service.start(session, container.jobs, campaign, now=now)
    elif action == "pause":
        service.pause(campaign)
    elif action == "resume":
        service.resume(session, container.jobs, campaign, now=now)
    else:
        service.cancel(session, campaign, now=now)
    session.commit()
    return _out(session, campaign)


@router.post("/{campaign_id}/start", response_model=CampaignOut)
def start_campaign(
    campaign_id: uuid.UUID,
    _: Principal = Depends(require(Permission.VOICE_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> CampaignOut:
    return _transition(session, container, campaign_id, "start")


@router.post("/{campaign_id}/pause", response_model=CampaignOut)
def pause_campaign(
    campaign_id: uuid.UUID,
    _: Principal = Depends(require(Permission.VOICE_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> CampaignOut:
    """No new dials from now on; calls in progress go on."""
    return _transition(session, container, campaign_id, "pause")


@router.post("/{campaign_id}/resume", response_model=CampaignOut)
def resume_campaign(
    campaign_id: uuid.UUID,
    _: Principal = Depends(require(Permission.VOICE_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> CampaignOut:
    return _transition(session, container, campaign_id, "resume")


@router.post("/{campaign_id}/cancel", response_model=CampaignOut)
def cancel_campaign(
    campaign_id: uuid.UUID,
    _: Principal = Depends(require(Permission.VOICE_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> CampaignOut:
    """Stop for good: leads not yet dialed are canceled."""
    return _transition(session, container, campaign_id, "cancel")
