"""Tables: where inbound webhooks come from and what they carried, speed-to-lead attempts, and the brokerage's
endpoints with every delivery made to them.

Secrets (a source's verification secret, an endpoint's signing secrets) are stored only as
:class:`seiketsu.crypto.SecretBox` tokens. ``webhook_inbound_events`` is what makes a replayed event harmless:
its ``(source_id, event_key)`` is unique, so the second copy of an event is acknowledged and dropped.
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


class Provider(enum.StrEnum):
    HUBSPOT = "hubspot"
    FOLLOWUPBOSS = "followupboss"
    PIPEDRIVE = "pipedrive"
    ZOHO = "zoho"
    GENERIC = "generic"
    """Web forms and automation tools, signed per Standard Webhooks."""


class WebhookSource(TenantModel, table=True):
    """One place that posts to ``/webhooks/{provider}/{id}``: a CRM account or a web form."""

    __tablename__ = "webhook_sources"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    provider: Provider = Field(sa_type=enum_column(Provider, 20))
    name: str = Field(max_length=100)
    integration_id: uuid.UUID | None = Field(
        default=None, foreign_key="crm_integrations.id", ondelete="SET NULL", nullable=True
    )
    """The CRM integration that completes thin payloads (HubSpot, Follow Up Boss, Zoho) by fetching the record."""
    secret: str = Field(sa_type=sa.Text, repr=False)
    """SecretBox token of the verification secret: a mapping whose keys depend on the provider."""
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InboundStatus(enum.StrEnum):
    QUEUED = "queued"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class InboundEvent(TenantModel, table=True):
    """One event a source sent, kept once per event id."""

    __tablename__ = "webhook_inbound_events"
    __table_args__ = (sa.UniqueConstraint("source_id", "event_key"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    source_id: uuid.UUID = Field(foreign_key="webhook_sources.id", ondelete="CASCADE")
    event_key: str = Field(max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    client_ip: str | None = Field(default=None, max_length=45)
    status: InboundStatus = Field(default=InboundStatus.QUEUED, sa_type=enum_column(InboundStatus, 10))
    lead_id: uuid.UUID | None = Field(default=None)
    detail: str | None = Field(default=None, sa_type=sa.Text)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AttemptOutcome(enum.StrEnum):
    SCHEDULED = "scheduled"
    DIALED = "dialed"
    DEFERRED = "deferred"
    """The gate allows later only (calling window, frequency cap): asked again at ``next_allowed_at``."""
    BLOCKED = "blocked"
    FAILED = "failed"


class SpeedToLeadAttempt(TenantModel, table=True):
    """One speed-to-lead step for a lead: scheduled, then each time the gate was asked and what followed."""

    __tablename__ = "speed_to_lead_attempts"
    __table_args__ = (sa.Index("ix_speed_to_lead_attempts_lead_created", "lead_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    lead_id: uuid.UUID = Field(foreign_key="leads.id", ondelete="CASCADE")
    outcome: AttemptOutcome = Field(sa_type=enum_column(AttemptOutcome, 10))
    decision_id: uuid.UUID | None = Field(default=None)
    allowed: bool | None = Field(default=None)
    next_allowed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    call_id: uuid.UUID | None = Field(default=None)
    detail: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookEndpoint(TenantModel, table=True):
    """A brokerage's URL that receives signed events."""

    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    events: list[str] = Field(default_factory=list, sa_type=JSONType)
    secrets: str = Field(sa_type=sa.Text, repr=False)
    """SecretBox token of ``[{"secret": ..., "expiresAt": iso or null}, ...]``, the newest first."""
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=300)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Out of attempts (or the endpoint was disabled); may be re-sent by hand."""


class WebhookDelivery(TenantModel, table=True):
    """One event to one endpoint; ``message_id`` is the ``webhook-id`` every attempt carries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "message_id"),
        sa.Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE")
    event_type: str = Field(max_length=50)
    message_id: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=enum_column(DeliveryStatus, 10))
    attempts: int = Field(default=0)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(TenantModel, table=True):
    """One HTTP attempt of a delivery: the answer's status code (None when none came), timing and error."""

    __tablename__ = "webhook_delivery_attempts"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    delivery_id: uuid.UUID = Field(foreign_key="webhook_deliveries.id", index=True, ondelete="CASCADE")
    attempt: int
    status_code: int | None = Field(default=None)
    duration_ms: int = Field(default=0)
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
