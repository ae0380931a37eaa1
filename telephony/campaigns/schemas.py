"""Wire shapes of /api/v1/campaigns (camelCase JSON)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from compliance.vocabulary import Purpose
from seiketsu.leads.models import LeadStatus
from seiketsu.phones import InvalidPhoneNumber, normalize_phone
from seiketsu.schemas import CamelModel, InputModel, UtcDateTime
from telephony.campaigns.models import CampaignLeadStatus, CampaignStatus

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HHMM = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"


class ScheduleIn(InputModel):
    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: str = Field(pattern=HHMM, description="local time the calling window opens, HH:MM")
    end: str = Field(pattern=HHMM, description="local time it closes, HH:MM (24:00 for midnight)")
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone; the organization's by default")


class LeadFilterIn(InputModel):
    status: list[LeadStatus] | None = None
    source: str | None = Field(default=None, max_length=50)
    created_from: UtcDateTime | None = None
    created_to: UtcDateTime | None = None
    lead_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=10_000)


class CampaignSettingsIn(InputModel):
    """A campaign's settings; its leads come from ``leadFilter`` (JSON) or an uploaded CSV file (multipart)."""

    name: str = Field(min_length=1, max_length=200)
    purpose: Purpose = Purpose.MARKETING
    schedule: ScheduleIn | None = Field(default=None, description="Monday to Saturday, 9:00-19:00 by default")
    calls_per_minute: int = Field(default=10, ge=1, le=1200)
    max_concurrent_calls: int | None = Field(
        default=None, ge=1, description="at most the organization's limit, which is also the default"
    )
    max_attempts: int = Field(default=3, ge=1, le=10, description="per lead; only busy and unanswered calls retry")
    retry_delay_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    from_number: str | None = Field(default=None, max_length=32)

    @field_validator("from_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_phone(value)
        except InvalidPhoneNumber as exc:
            raise ValueError(str(exc)) from exc


class CampaignIn(CampaignSettingsIn):
    lead_filter: LeadFilterIn


class ProgressOut(CamelModel):
    total: int
    pending: int
    dialing: int
    done: int
    blocked: int
    failed: int
    canceled: int
    calls_placed: int
    percent_complete: float


class CampaignOut(CamelModel):
    id: uuid.UUID
    name: str
    status: CampaignStatus
    purpose: str
    source: str
    lead_filter: dict[str, Any]
    schedule: dict[str, Any]
    calls_per_minute: int
    max_concurrent_calls: int
    max_attempts: int
    retry_delay_minutes: int
    from_number: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    progress: ProgressOut
    outcomes: dict[str, int]
    """The latest call outcome of each lead called so far, counted."""


class CampaignLeadOut(CamelModel):
    id: uuid.UUID
    lead_id: uuid.UUID
    phone: str
    row_number: int | None
    status: CampaignLeadStatus
    attempts: int
    next_attempt_at: datetime
    planned_at: datetime | None
    dialed_at: datetime | None
    call_id: uuid.UUID | None
    last_status: str | None
    last_outcome: str | None
    decision_id: str | None
    detail: str
