from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Any

from pydantic import EmailStr, Field, field_validator

from seiketsu.auth.passwords import MIN_PASSWORD_LENGTH
from seiketsu.schemas import CamelModel, InputModel, JsonObject, PartialUpdate
from seiketsu.tenancy.models import NumberPurpose, Role

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


def _check_timezone(value: str | None) -> str | None:
    if value is not None and value not in zoneinfo.available_timezones():
        raise ValueError("not an IANA time zone")
    return value


class OrganizationIn(InputModel):
    """Plan limits (calls at once, API requests a minute) are not here: ``seiketsu org limits`` sets them."""

    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=SLUG_PATTERN)
    timezone: str = "America/New_York"
    settings: JsonObject = Field(default_factory=dict)

    _tz = field_validator("timezone")(_check_timezone)


class OrganizationUpdate(PartialUpdate):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    settings: JsonObject | None = None
    is_active: bool | None = None

    _tz = field_validator("timezone")(_check_timezone)


class OrganizationOut(CamelModel):
    id: uuid.UUID
    name: str
    slug: str
    timezone: str
    settings: dict[str, Any]
    max_concurrent_calls: int
    api_requests_per_minute: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserIn(InputModel):
    email: EmailStr
    full_name: str = Field(default="", max_length=200)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1000)
    role: Role = Role.AGENT


class UserUpdate(PartialUpdate):
    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1000)


class UserOut(CamelModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime


class PhoneNumberIn(InputModel):
    number: str = Field(min_length=3, max_length=32)
    purpose: NumberPurpose = NumberPurpose.BOTH
    label: str = Field(default="", max_length=100)


class PhoneNumberOut(CamelModel):
    id: uuid.UUID
    e164: str
    purpose: NumberPurpose
    label: str
    created_at: datetime
