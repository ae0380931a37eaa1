"""Campaigns as a service: creating one from a lead filter or CSV rows, its life cycle, and its progress.

::

    draft ──start──▶ running ──pause──▶ paused ──resume──▶ running ──(no lead left)──▶ completed
      └──────────────────┴──────cancel─────┴──▶ canceled

Starting or resuming bumps the campaign's tick sequence and queues a tick carrying it (see
``telephony.campaigns.engine``): any tick queued before is stale from then on, so one chain of ticks paces a
campaign however often it is started, resumed or nudged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.db import utcnow
from seiketsu.errors import Conflict
from seiketsu.jobs.queue import JobQueue
from seiketsu.leads.models import Lead, LeadStatus
from telephony.campaigns.csv_import import CsvLead
from telephony.campaigns.models import Campaign, CampaignLead, CampaignLeadStatus, CampaignStatus
from telephony.campaigns.schedule import CallingSchedule

TICK_JOB = "telephony.campaign.tick"
FINISHED_LEAD_STATUSES = (
    CampaignLeadStatus.DONE,
    CampaignLeadStatus.BLOCKED,
    CampaignLeadStatus.FAILED,
    CampaignLeadStatus.CANCELED,
)
MAX_LEADS = 100_000
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    name: str
    purpose: str
    schedule: CallingSchedule
    calls_per_minute: int
    max_concurrent_calls: int
    max_attempts: int
    retry_delay: timedelta
    from_number: str | None = None


@dataclass(frozen=True, slots=True)
class LeadFilter:
    statuses: tuple[LeadStatus, ...] = ()
    source: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    lead_ids: tuple[uuid.UUID, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": [s.value for s in self.statuses] or None,
            "source": self.source,
            "createdFrom": self.created_from.isoformat() if self.created_from else None,
            "createdTo": self.created_to.isoformat() if self.created_to else None,
            "leadIds": [str(i) for i in self.lead_ids] or None,
        }


class NoLeads(ValueError):
    """A campaign must have at least one lead (and at most ``MAX_LEADS``)."""


def _members_from_filter(session: Session, lead_filter: LeadFilter) -> list[tuple[uuid.UUID, str, int | None]]:
    query = sa.select(col(Lead.id), col(Lead.phone))
    if lead_filter.statuses:
        query = query.where(col(Lead.status).in_(lead_filter.statuses))
    if lead_filter.source:
        query = query.where(col(Lead.source) == lead_filter.source)
    if lead_filter.created_from:
        query = query.where(col(Lead.created_at) >= lead_filter.created_from)
    if lead_filter.created_to:
        query = query.where(col(Lead.created_at) < lead_filter.created_to)
    if lead_filter.lead_ids:
        query = query.where(col(Lead.id).in_(lead_filter.lead_ids))
    rows = session.execute(query.order_by(col(Lead.created_at), col(Lead.id)).limit(MAX_LEADS + 1)).all()
    return [(lead_id, phone, None) for lead_id, phone in rows]


def _members_from_csv(session: Session, rows: Sequence[CsvLead]) -> list[tuple[uuid.UUID, str, int | None]]:
    """The CSV's leads: existing ones matched by phone (their blank fields filled in), the others created."""
    existing: dict[str, Lead] = {}
    phones = [row.phone for row in rows]
    for start in range(0, len(phones), _CHUNK):
        chunk = phones[start : start + _CHUNK]
        found = session.scalars(sa.select(Lead).where(col(Lead.phone).in_(chunk)))
        existing.update((lead.phone, lead) for lead in found)
    members: list[tuple[uuid.UUID, str, int | None]] = []
    created: list[Lead] = []
    for row in rows:
        lead = existing.get(row.phone)
        fields: dict[str, Any] = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "email": row.email,
            "street": row.street,
            "city": row.city,
            "state": row.state,
            "postal_code": row.postal_code,
        }
        if lead is None:
            lead = Lead(phone=row.phone, source="campaign_csv", **{k: v for k, v in fields.items() if v})
            created.append(lead)
        else:
            for name, value in fields.items():
                if value and not getattr(lead, name):
                    setattr(lead, name, value)
        members.append((lead.id, row.phone, row.row))
    session.add_all(created)
    session.flush()
    return members


def create_campaign(
    session: Session,
    *,
    settings: CampaignSettings,
    leads: LeadFilter | Sequence[CsvLead],
    created_by: str,
    now: datetime,
) -> Campaign:
    """A draft campaign and its leads, in the session's transaction (the caller commits). Raises NoLeads."""
    from_csv = not isinstance(leads, LeadFilter)
    if isinstance(leads, LeadFilter):
        members = _members_from_filter(session, leads)
    else:
        members = _members_from_csv(session, leads)
    if not members:
        raise NoLeads("no leads match")
    if len(members) > MAX_LEADS:
        raise NoLeads(f"a campaign holds at most {MAX_LEADS} leads")
    campaign = Campaign(
        name=settings.name,
        purpose=settings.purpose,
        source="csv" if from_csv else "filter",
        lead_filter={} if not isinstance(leads, LeadFilter) else leads.as_dict(),
        schedule=settings.schedule.as_dict(),
        calls_per_minute=settings.calls_per_minute,
        max_concurrent_calls=settings.max_concurrent_calls,
        max_attempts=settings.max_attempts,
        retry_delay_seconds=int(settings.retry_delay.total_seconds()),
        from_number=settings.from_number,
        created_by=created_by[:80],
    )
    session.add(campaign)
    session.flush()
    stamp = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "organization_id": campaign.organization_id,
            "campaign_id": campaign.id,
            "lead_id": lead_id,
            "phone": phone,
            "row_number": row,
            "status": CampaignLeadStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "detail": "",
            "placement_failures": 0,
            "updated_at": stamp,
        }
        for lead_id, phone, row in members
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(sa.insert(CampaignLead), rows[start : start + _CHUNK])
    return campaign


def _require(campaign: Campaign, allowed: Iterable[CampaignStatus], action: str) -> None:
    if campaign.status not in tuple(allowed):
        raise Conflict(f"a {campaign.status} campaign cannot be {action}")


def kick(session: Session, jobs: JobQueue, campaign: Campaign, *, now: datetime) -> None:
    """Queue a tick that replaces any tick queued before (the caller commits)."""
    campaign.tick_seq += 1
    jobs.enqueue(
        session,
        TICK_JOB,
        {"campaignId": str(campaign.id), "seq": campaign.tick_seq, "at": now.isoformat()},
        organization_id=campaign.organization_id,
    )


def start(session: Session, jobs: JobQueue, campaign: Campaign, *, now: datetime) -> Campaign:
    _require(campaign, [CampaignStatus.DRAFT], "started")
    campaign.status = CampaignStatus.RUNNING
    campaign.started_at = now
    campaign.updated_at = utcnow()
    kick(session, jobs, campaign, now=now)
    return campaign


def pause(campaign: Campaign) -> Campaign:
    _require(campaign, [CampaignStatus.RUNNING], "paused")
    campaign.status = CampaignStatus.PAUSED
    campaign.updated_at = utcnow()
    return campaign


def resume(session: Session, jobs: JobQueue, campaign: Campaign, *, now: datetime) -> Campaign:
    _require(campaign, [CampaignStatus.PAUSED], "resumed")
    campaign.status = CampaignStatus.RUNNING
    campaign.updated_at = utcnow()
    kick(session, jobs, campaign, now=now)
    return campaign


def cancel(session: Session, campaign: Campaign, *, now: datetime) -> Campaign:
    """Stop for good: leads not yet dialed are canceled; calls in progress finish."""
    _require(campaign, [CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED], "canceled")
    campaign.status = CampaignStatus.CANCELED
    campaign.completed_at = now
    campaign.updated_at = utcnow()
    session.execute(
        sa.update(CampaignLead)
        .where(col(CampaignLead.campaign_id) == campaign.id, col(CampaignLead.status) == CampaignLeadStatus.PENDING)
        .values(status=CampaignLeadStatus.CANCELED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return campaign


@dataclass
class Progress:
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    calls_placed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    """The latest outcome of each lead called so far."""

    @property
    def finished(self) -> int:
        return sum(self.by_status.get(status.value, 0) for status in FINISHED_LEAD_STATUSES)


def progress(session: Session, campaign_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Progress]:
    """Lead counts by status, calls placed and latest outcomes of each campaign, in two queries."""
    found: dict[uuid.UUID, Progress] = {campaign_id: Progress() for campaign_id in campaign_ids}
    if not campaign_ids:
        return found
    by_status = session.execute(
        sa.select(
            col(CampaignLead.campaign_id),
            col(CampaignLead.status),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(col(CampaignLead.attempts)), 0),
        )
        .where(col(CampaignLead.campaign_id).in_(campaign_ids))
        .group_by(col(CampaignLead.campaign_id), col(CampaignLead.status))
    )
    for campaign_id, status, count, attempts in by_status:
        item = found[campaign_id]
        item.by_status[str(status)] = int(count)
        item.total += int(count)
        item.calls_placed += int(attempts)
    outcomes = session.execute(
        sa.select(col(CampaignLead.campaign_id), col(CampaignLead.last_outcome), sa.func.count())
        .where(col(CampaignLead.campaign_id).in_(campaign_ids), col(CampaignLead.last_outcome).is_not(None))
        .group_by(col(CampaignLead.campaign_id), col(CampaignLead.last_outcome))
    )
    for campaign_id, outcome, count in outcomes:
        found[campaign_id].outcomes[str(outcome)] = int(count)
    return found
