"""Wire shapes of /api/v1/integrations. Credentials go in only: outputs carry their key names, never values."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints

from crm_adapters.models import DeliveryStatus
from seiketsu.schemas import CamelModel, InputModel

CrmType = Literal["hubspot", "salesforce", "zoho", "pipedrive", "followupboss"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Secret = Annotated[SecretStr, Field(min_length=1, max_length=4096)]
Value = Annotated[str, StringConstraints(max_length=500)]

Credentials = Annotated[dict[Key, Secret], Field(min_length=1, max_length=20)]
FieldMap = Annotated[dict[Key, Value | None], Field(max_length=50)]
VendorSettings = Annotated[dict[Key, Value], Field(max_length=20)]


class RateLimitIn(InputModel):
    requests: int = Field(ge=1, le=100_000)
    window_seconds: float = Field(gt=0, le=86_400)


class IntegrationIn(InputModel):
    crm_type: CrmType
    name: Name
    credentials: Credentials
    """The vendor's credential entries (``access_token``, ``api_key``, ...); write-only."""
    field_mapping: FieldMap = {}
    outcome_mapping: FieldMap = {}
    settings: VendorSettings = {}
    rate_limit: RateLimitIn | None = None
    enabled: bool = True


class IntegrationUpdate(InputModel):
    """Every field optional; ``credentials``, when given, replace the stored ones as a whole."""

    name: Name | None = None
    credentials: Credentials | None = None
    field_mapping: FieldMap | None = None
    outcome_mapping: FieldMap | None = None
    settings: VendorSettings | None = None
    rate_limit: RateLimitIn | None = None
    enabled: bool | None = None


class RateLimitOut(CamelModel):
    requests: int
    window_seconds: float
    is_default: bool


class IntegrationOut(CamelModel):
    id: uuid.UUID
    crm_type: str
    name: str
    enabled: bool
    has_credentials: bool
    credential_keys: list[str]
    field_mapping: dict[str, str | None]
    outcome_mapping: dict[str, str | None]
    settings: dict[str, str]
    rate_limit: RateLimitOut
    created_at: datetime
    updated_at: datetime


class ConnectionTestOut(CamelModel):
    """A failure by class (``configuration``, ``credentials_rejected``, ``quota_exhausted``, ``unavailable``,
    ``refused``, ``throttled``) with our own message: what the remote end answered is never repeated."""

    ok: bool
    error: str | None = None
    message: str | None = None
    vendor_status: int | None = None
    retryable: bool | None = None


class DeliveryAttemptOut(CamelModel):
    attempt: int
    step: str
    succeeded: bool
    http_status: int | None
    error: str | None
    vendor_code: str | None
    remote_id: str | None
    duration_ms: int
    created_at: datetime


class DeliveryOut(CamelModel):
    id: uuid.UUID
    integration_id: uuid.UUID
    call_id: str
    status: DeliveryStatus
    attempt_count: int
    last_error: str | None
    vendor_status: int | None
    vendor_code: str | None
    remote_ids: dict[str, str]
    """The CRM's ids of what this delivery wrote, by kind (contact, call, task, appointment)."""
    attempts: list[DeliveryAttemptOut]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
