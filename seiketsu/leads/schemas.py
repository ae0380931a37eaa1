from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import EmailStr, Field, field_validator

from seiketsu.leads.models import LeadStatus
from seiketsu.phones import InvalidPhoneNumber, normalize_phone
from seiketsu.schemas import BoundedWireKeyed, CamelModel, InputModel, UtcDateTime, WireKeyed

US_STATE_PATTERN = r"^[A-Z]{2}$"
POSTAL_CODE_PATTERN = r"^\d{5}(-\d{4})?$"


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_phone(value)
    except InvalidPhoneNumber as exc:
        raise ValueError(str(exc)) from exc


class LeadFields(InputModel):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: EmailStr | None = None
    source: str | None = Field(default=None, min_length=1, max_length=50)
    status: LeadStatus | None = None
    qualification: BoundedWireKeyed | None = None
    street: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, pattern=US_STATE_PATTERN)
    postal_code: str | None = Field(default=None, pattern=POSTAL_CODE_PATTERN)
    last_inquiry_at: UtcDateTime | None = None
    last_transaction_at: UtcDateTime | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _upper_state(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class LeadIn(LeadFields):
    phone: str = Field(min_length=3, max_length=32)

    _phone = field_validator("phone")(_phone)


class LeadUpdate(LeadFields):
    phone: str | None = Field(default=None, min_length=3, max_length=32)

    _phone = field_validator("phone")(_phone)


class LeadOut(CamelModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str
    source: str
    status: LeadStatus
    qualification: WireKeyed
    street: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    last_inquiry_at: datetime | None
    last_transaction_at: datetime | None
    created_at: datetime
    updated_at: datetime
