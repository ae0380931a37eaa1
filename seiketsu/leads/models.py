"""Leads: the prospects a brokerage calls and is called by."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from seiketsu.db import JSONType, UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel


class LeadStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    APPOINTMENT_SET = "appointment_set"
    CONVERTED = "converted"
    LOST = "lost"


class Lead(TenantModel, table=True):
    __tablename__ = "leads"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "phone"),
        sa.Index("ix_leads_org_created", "organization_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    email: str | None = Field(default=None, max_length=320, index=True)
    phone: str = Field(max_length=16)
    source: str = Field(default="manual", max_length=50)
    status: LeadStatus = Field(default=LeadStatus.NEW, sa_type=enum_column(LeadStatus, 20))
    qualification: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    street: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=2)
    postal_code: str | None = Field(default=None, max_length=10)
    last_inquiry_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_transaction_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AppointmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELED = "canceled"
    COMPLETED = "completed"


class Appointment(TenantModel, table=True):
    """A meeting between a lead and the brokerage, booked by the agent on a call or by a person."""

    __tablename__ = "appointments"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    lead_id: uuid.UUID = Field(foreign_key="leads.id", index=True, ondelete="CASCADE")
    call_id: uuid.UUID | None = Field(default=None, index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    timezone: str = Field(max_length=64)
    notes: str = Field(default="", sa_type=sa.Text)
    status: AppointmentStatus = Field(
        default=AppointmentStatus.SCHEDULED, sa_type=enum_column(AppointmentStatus, 10)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
