"""The compliance package's tables."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from seiketsu.db import UTCDateTime, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel


class DoNotCallRequest(TenantModel, table=True):
    """A number on the organization's internal Do-Not-Call list, honoured from the moment it is recorded.

    Kept at least five years (47 CFR 64.1200(d)(6)); a number that asks to be called again gets a new grant of
    consent in the ledger, never a deleted row.
    """

    __tablename__ = "dnc_internal"
    __table_args__ = (sa.UniqueConstraint("organization_id", "phone"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    phone: str = Field(max_length=16)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    source: str = Field(max_length=20)
    """How the request came: api, call, sms, agent, web."""
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
