"""Wire shapes of the compliance API (camelCase JSON)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import Field, IPvAnyAddress, field_validator, model_validator

from compliance.consent import ConsentKind
from compliance.decision import Verdict
from compliance.ledger import GrantSource, RevocationMethod
from compliance.models import ImportStatus
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind
from seiketsu.db import utcnow
from seiketsu.phones import InvalidPhoneNumber, normalize_phone
from seiketsu.schemas import CamelModel, InputModel, UtcDateTime

# A moment "now" stated by another machine may run a little ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)
POSTAL_CODE_PATTERN = r"^\d{5}(-\d{4})?$"
STATE_PATTERN = r"^[A-Za-z]{2}$"


def _e164(value: str) -> str:
    try:
        return normalize_phone(value)
    except InvalidPhoneNumber as exc:
        raise ValueError(str(exc)) from exc


def _not_future(value: datetime | None) -> datetime | None:
    if value is not None and value > utcnow() + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return value


class ConsentGrantIn(InputModel):
    phone: str = Field(min_length=3, max_length=32)
    kind: ConsentKind
    channels: list[ConsentChannel] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    source: GrantSource
    granted_at: UtcDateTime
    form_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    text_shown: str | None = Field(default=None, max_length=20000)
    ip_address: IPvAnyAddress | None = None
    recording_ref: str | None = Field(default=None, max_length=500)
    agreement_ref: str | None = Field(default=None, max_length=500)
    detail: str = Field(default="", max_length=5000)

    _phone = field_validator("phone")(_e164)
    _granted = field_validator("granted_at")(_not_future)

    @model_validator(mode="after")
    def _evidence(self) -> ConsentGrantIn:
        if not (self.form_url or self.recording_ref or self.agreement_ref):
            raise ValueError("a grant needs evidence: formUrl, recordingRef or agreementRef")
        if self.kind is ConsentKind.WRITTEN and not (self.text_shown or self.agreement_ref):
            raise ValueError("written consent needs the text shown (textShown) or the signed agreement (agreementRef)")
        return self


class ConsentRevokeIn(InputModel):
    phone: str = Field(min_length=3, max_length=32)
    channels: list[ConsentChannel] | None = Field(default=None, min_length=1)
    """Every channel when absent."""
    purposes: list[Purpose] | None = Field(default=None, min_length=1)
    method: RevocationMethod = RevocationMethod.API
    revoked_at: UtcDateTime | None = None
    detail: str = Field(default="", max_length=5000)

    _phone = field_validator("phone")(_e164)
    _revoked = field_validator("revoked_at")(_not_future)


class ConsentOut(CamelModel):
    id: uuid.UUID
    phone: str
    action: str
    kind: str | None
    channels: list[str]
    purposes: list[str]
    method: str
    occurred_at: datetime
    form_url: str | None
    text_shown: str | None
    ip_address: str | None
    recording_ref: str | None
    agreement_ref: str | None
    detail: str
    recorded_by: str
    recorded_at: datetime


DncSource = Literal["api", "agent", "web", "call", "sms"]


class DncRequestIn(InputModel):
    phone: str = Field(min_length=3, max_length=32)
    source: DncSource = "api"
    requested_at: UtcDateTime | None = None
    note: str = Field(default="", max_length=500)

    _phone = field_validator("phone")(_e164)
    _requested = field_validator("requested_at")(_not_future)


class DncRequestOut(CamelModel):
    id: uuid.UUID
    phone: str
    requested_at: datetime
    source: str
    note: str
    recorded_by: str
    created_at: datetime
    active: bool = True
    """False once a later withdrawal took the number off the list."""


class DncWithdrawalIn(InputModel):
    phone: str = Field(min_length=3, max_length=32)
    reason: str = Field(min_length=3, max_length=500)
    source: DncSource = "api"

    _phone = field_validator("phone")(_e164)


class DncWithdrawalOut(CamelModel):
    id: uuid.UUID
    phone: str
    withdrawn_at: datetime
    source: str
    reason: str
    recorded_by: str


class RejectedLineOut(CamelModel):
    source: str
    line: int
    reason: str
    text: str


class RegistryImportOut(CamelModel):
    id: uuid.UUID
    list_name: str = Field(serialization_alias="list")
    kind: str
    as_of: date
    file_name: str
    declared_area_codes: list[str]
    status: ImportStatus
    accepted: int
    additions: int
    deletions: int
    rejected: int
    rejected_lines: list[RejectedLineOut]
    area_codes: list[str]
    numbers_added: int
    numbers_removed: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RegistryCopyOut(CamelModel):
    list_name: str = Field(serialization_alias="list")
    area_codes: int
    oldest_as_of: date | None
    newest_as_of: date | None


class CheckIn(InputModel):
    phone: str = Field(min_length=1, max_length=32)
    """As written; an invalid number is not refused here but blocked (and recorded) by the gate."""
    channel: Channel
    voice: VoiceKind | None = None
    purpose: Purpose
    at: UtcDateTime | None = None
    lead_id: uuid.UUID | None = None
    state: str | None = Field(default=None, pattern=STATE_PATTERN)
    postal_code: str | None = Field(default=None, pattern=POSTAL_CODE_PATTERN)

    @field_validator("state")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value is not None else None


class CheckResultOut(CamelModel):
    rule: str
    result: Verdict
    citation: str
    detail: str


class CheckOut(CamelModel):
    allowed: bool
    decision_id: uuid.UUID
    checks: list[CheckResultOut]
    next_allowed_at: datetime | None = None
    """Only when time alone blocks (left out of the body otherwise)."""
