"""Campaigns and the leads they dial."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from seiketsu.db import JSONType, UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELED = "canceled"


class CampaignLeadStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its turn (``next_attempt_at``)."""
    CLAIMED = "claimed"
    """Taken by one tick, which is asking the gate about it."""
    DIALING = "dialing"
    """A call was reserved and placed; waiting for its outcome."""
    DONE = "done"
    """Reached a final outcome (or ran out of attempts)."""
    BLOCKED = "blocked"
    """The compliance gate refused it (``decision_id`` says why)."""
    FAILED = "failed"
    """Could not be placed (an invalid number, repeated errors)."""
    CANCELED = "canceled"


ACTIVE_LEAD_STATUSES = (CampaignLeadStatus.CLAIMED, CampaignLeadStatus.DIALING)


class Campaign(TenantModel, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (sa.Index("ix_campaigns_org_created", "organization_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    status: CampaignStatus = Field(default=CampaignStatus.DRAFT, sa_type=enum_column(CampaignStatus, 10))
    purpose: str = Field(max_length=20)
    source: str = Field(max_length=10)
    """Where its leads came from: "filter" or "csv"."""
    lead_filter: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    schedule: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    """``CallingSchedule.as_dict()``: days and hours, in a time zone."""
    calls_per_minute: int
    max_concurrent_calls: int
    max_attempts: int
    retry_delay_seconds: int
    """Between attempts after a busy or unanswered call."""
    from_number: str | None = Field(default=None, max_length=16)
    next_dial_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """The pacing cursor: the planned moment of the next dial."""
    tick_seq: int = Field(default=0)
    """The sequence number the next pacing tick must carry; any other tick is stale and does nothing."""
    last_tick_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CampaignLead(TenantModel, table=True):
    __tablename__ = "campaign_leads"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "lead_id"),
        sa.Index("ix_campaign_leads_due", "campaign_id", "status", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id", ondelete="CASCADE")
    lead_id: uuid.UUID = Field(foreign_key="leads.id", index=True, ondelete="CASCADE")
    phone: str = Field(max_length=16)
    row_number: int | None = Field(default=None)
    """The lead's row in the uploaded CSV file (the header is row 1)."""
    status: CampaignLeadStatus = Field(
        default=CampaignLeadStatus.PENDING, sa_type=enum_column(CampaignLeadStatus, 10)
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    planned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the pacing planned the latest dial."""
    dialed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the latest dial was actually sent to Twilio."""
    call_id: uuid.UUID | None = Field(default=None, foreign_key="calls.id", index=True, ondelete="SET NULL")
    last_status: str | None = Field(default=None, max_length=12)
    """Twilio's final status of the latest call (busy, no-answer, completed, ...)."""
    last_outcome: str | None = Field(default=None, max_length=16)
    decision_id: str | None = Field(default=None, max_length=64)
    """The gate decision of the latest dial or block."""
    detail: str = Field(default="", max_length=500)
    placement_failures: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
