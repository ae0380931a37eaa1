"""Wire shapes of /api/v1/webhook-endpoints, /api/v1/webhook-sources and a lead's speed-to-lead attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import Field, SecretStr, field_validator

from seiketsu.schemas import CamelModel, InputModel
from webhooks.delivery import EVENT_TYPES
from webhooks.models import AttemptOutcome, DeliveryStatus, Provider

EventType = Literal[
    "call.started",
    "call.completed",
    "lead.created",
    "lead.qualified",
    "appointment.booked",
    "compliance.blocked",
    "sms.received",
]
assert set(get_args(EventType)) == set(EVENT_TYPES)

Url = Annotated[str, Field(min_length=1, max_length=2000)]
Events = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES))]


def _unique(events: list[str] | None) -> list[str] | None:
    return list(dict.fromkeys(events)) if events is not None else None


class EndpointIn(InputModel):
    url: Url
    events: Events
    description: str = Field(default="", max_length=200)

    _dedupe = field_validator("events")(_unique)


class EndpointUpdate(InputModel):
    url: Url | None = None
    events: Events | None = None
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None

    _dedupe = field_validator("events")(_unique)


class EndpointOut(CamelModel):
    id: uuid.UUID
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str
    """Shown once: on creation and on rotation."""


class DeliveryOut(CamelModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_type: str
    message_id: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class AttemptOut(CamelModel):
    attempt: int
    status_code: int | None
    duration_ms: int
    error: str | None
    created_at: datetime


class DeliveryDetail(DeliveryOut):
    payload: dict[str, object]
    log: list[AttemptOut]


Secret = Annotated[SecretStr, Field(min_length=1, max_length=500)]


class SourceIn(InputModel):
    """A place that posts webhooks. ``secret`` is what proves a request came from it: HubSpot's app client secret,
    Follow Up Boss's system key, the Zoho channel token, the Standard Webhooks secret of a generic source (made for
    you when omitted); Pipedrive uses ``username`` and ``secret`` as its Basic-auth credentials."""

    provider: Provider
    name: str = Field(min_length=1, max_length=100)
    integration_id: uuid.UUID | None = None
    secret: Secret | None = None
    username: str | None = Field(default=None, min_length=1, max_length=200)


class SourceOut(CamelModel):
    id: uuid.UUID
    provider: Provider
    name: str
    integration_id: uuid.UUID | None
    enabled: bool
    url: str
    created_at: datetime


class SourceWithSecret(SourceOut):
    secret: str | None = None
    """The generated Standard Webhooks secret of a generic source, shown once."""


class SpeedToLeadAttemptOut(CamelModel):
    id: uuid.UUID
    outcome: AttemptOutcome
    decision_id: uuid.UUID | None
    allowed: bool | None
    next_allowed_at: datetime | None
    call_id: uuid.UUID | None
    detail: str
    created_at: datetime


class SpeedToLeadOut(CamelModel):
    lead_id: uuid.UUID
    next_attempt_at: datetime | None
    attempts: list[SpeedToLeadAttemptOut]
