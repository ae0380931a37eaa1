from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    EmailStr,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from seiketsu.auth.passwords import MIN_PASSWORD_LENGTH
from seiketsu.phones import InvalidPhoneNumber, normalize_phone
from seiketsu.schemas import CamelModel, InputModel, PartialUpdate, bounded_json
from seiketsu.tenancy.models import NumberPurpose, Role

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


def _check_timezone(value: str | None) -> str | None:
    if value is not None and value not in zoneinfo.available_timezones():
        raise ValueError("not an IANA time zone")
    return value


def _e164(value: str | None) -> str | None:
    """A number the telephone network takes as written: E.164 ("+15125550100"), valid for its country."""
    if value is None:
        return None
    try:
        if normalize_phone(value) == value:
            return value
    except InvalidPhoneNumber:
        pass
    raise ValueError("not a phone number in E.164 form, like +15125550100")


E164 = Annotated[str | None, AfterValidator(_e164)]


class OrganizationSettings(InputModel):
    """An organization's free-form settings; the keys the platform dials or reads aloud are checked on write.

    Other keys are kept as given (bounded in size), and only the keys sent are stored.
    """

    model_config = ConfigDict(extra="allow", serialize_by_alias=True)

    transfer_number: E164 = None
    """Where a caller asking for a person is transferred; without it the agent takes a message."""
    callback_number: E164 = None
    """The number read out on calls we place, for Do-Not-Call requests."""
    service_areas: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=500
    )
    """Place names (neighbourhoods, towns) the agent should understand."""

    @model_validator(mode="after")
    def _bounded(self) -> OrganizationSettings:
        bounded_json(self.model_dump())
        return self

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        given = {to_camel(name) for name in self.model_fields_set} | set(self.model_extra or {})
        return {key: value for key, value in handler(self).items() if key in given}


class OrganizationIn(InputModel):
    """Plan limits (calls at once, API requests a minute) are not here: ``seiketsu org limits`` sets them."""

    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=SLUG_PATTERN)
    timezone: str = "America/New_York"
    settings: OrganizationSettings = Field(default_factory=OrganizationSettings)

    _tz = field_validator("timezone")(_check_timezone)


class OrganizationUpdate(PartialUpdate):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    settings: OrganizationSettings | None = None
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
