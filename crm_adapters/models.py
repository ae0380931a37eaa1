"""Tables: a brokerage's CRM integrations, the CRM's ids of what we sent, and each call's delivery with its attempts.

Credentials are stored only as a :class:`seiketsu.crypto.SecretBox` token; their key names are kept beside it in
the clear so that listing an integration never needs the key. ``crm_remote_records`` is what makes delivery
idempotent: once a step's record id is stored, no retry sends that step again.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from seiketsu.db import JSONType, UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel


class Integration(TenantModel, table=True):
    """One organization's connection to one CRM account."""

    __tablename__ = "crm_integrations"
    __table_args__ = (sa.UniqueConstraint("organization_id", "name"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    crm_type: str = Field(max_length=20)
    name: str = Field(max_length=100)
    credentials: str = Field(sa_type=sa.Text, repr=False)
    """The SecretBox token of the credentials mapping; never decrypted outside a delivery or a connection test."""
    credential_keys: list[str] = Field(default_factory=list, sa_type=JSONType)
    field_mapping: dict[str, str | None] = Field(default_factory=dict, sa_type=JSONType)
    outcome_mapping: dict[str, str | None] = Field(default_factory=dict, sa_type=JSONType)
    settings: dict[str, str] = Field(default_factory=dict, sa_type=JSONType)
    """The vendor's options: base URL override, instance, data-centre domain, owner id..."""
    rate_limit_requests: int | None = Field(default=None)
    rate_limit_window_seconds: float | None = Field(default=None)
    """Override of the vendor's documented request limit (a higher HubSpot tier, a stricter sandbox)."""
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RemoteKind(enum.StrEnum):
    CONTACT = "contact"
    CALL = "call"
    TASK = "task"
    APPOINTMENT = "appointment"


class RemoteRecord(TenantModel, table=True):
    """Our id of a contact, call, task or appointment -> the CRM's id of the record made from it."""

    __tablename__ = "crm_remote_records"
    __table_args__ = (sa.UniqueConstraint("integration_id", "kind", "local_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    integration_id: uuid.UUID = Field(foreign_key="crm_integrations.id", ondelete="CASCADE")
    kind: RemoteKind = Field(sa_type=enum_column(RemoteKind, 12))
    local_id: str = Field(max_length=100)
    remote_id: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"

    @property
    def is_final(self) -> bool:
        return self in (DeliveryStatus.SUCCEEDED, DeliveryStatus.DEAD)


class Delivery(TenantModel, table=True):
    """One finished call pushed to one integration; ``event`` is the call.completed snapshot it delivers."""

    __tablename__ = "crm_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("integration_id", "call_id"),
        sa.Index("ix_crm_deliveries_integration_created", "integration_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    integration_id: uuid.UUID = Field(foreign_key="crm_integrations.id", ondelete="CASCADE")
    call_id: str = Field(max_length=64)
    event: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=enum_column(DeliveryStatus, 10))
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    vendor_status: int | None = Field(default=None)
    vendor_code: str | None = Field(default=None, max_length=100)
    contact_remote_id: str | None = Field(default=None, max_length=255)
    """The contact this delivery upserted; set once its contact step is done."""
    lease_token: str | None = Field(default=None, max_length=32)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Who works on the delivery and until when; a worker renews it before each step, a dead one lets it lapse."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(TenantModel, table=True):
    """One step of one run of a delivery: what was tried, what the CRM answered, how long it took."""

    __tablename__ = "crm_delivery_attempts"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    delivery_id: uuid.UUID = Field(foreign_key="crm_deliveries.id", index=True, ondelete="CASCADE")
    attempt: int
    step: str = Field(max_length=12)
    succeeded: bool
    http_status: int | None = Field(default=None)
    error: str | None = Field(default=None, sa_type=sa.Text)
    vendor_code: str | None = Field(default=None, max_length=100)
    remote_id: str | None = Field(default=None, max_length=255)
    duration_ms: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
