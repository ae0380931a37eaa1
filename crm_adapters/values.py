"""Vendor-independent values handed to a CRM adapter: the contact, the call log and the follow-ups.

Phone numbers are E.164 strings (``+15551234567``); datetimes must be timezone-aware. Every value carries
our own id (lead, call, task, appointment), which adapters write into the CRM where it can serve as an
external id, so that a retried delivery updates or finds the record instead of creating a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallOutcome(StrEnum):
    """How the call ended, as a telephone would tell it."""

    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    FAILED = "failed"


class TaskType(StrEnum):
    CALL = "call"
    TODO = "todo"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Qualification:
    """What the agent learnt about the prospect; every answer is optional."""

    intent: str | None = None
    """``buy``, ``sell`` or ``rent``."""
    location: str | None = None
    timeline: str | None = None
    budget: int | None = None
    """Whole units of the brokerage's currency."""
    financing: str | None = None

    def field_values(self) -> dict[str, str | int]:
        """The answers given, keyed by our field names (see :mod:`crm_adapters.field_mapping`)."""
        values: dict[str, str | int | None] = {
            "intent": self.intent,
            "location": self.location,
            "timeline": self.timeline,
            "budget": self.budget,
            "financing": self.financing,
        }
        return {name: value for name, value in values.items() if value is not None and value != ""}


@dataclass(frozen=True, slots=True)
class Contact:
    """A lead as we know it; ``lead_id`` is our id for it."""

    lead_id: str
    phone: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    lead_source: str | None = None
    qualification: Qualification = field(default_factory=Qualification)

    def __post_init__(self) -> None:
        if not self.lead_id:
            raise ValueError("lead_id is required")
        if not self.phone and not self.email:
            raise ValueError("a contact needs a phone number or an email address")

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def field_values(self) -> dict[str, str | int]:
        """Every known value keyed by our field names, qualification answers included."""
        values: dict[str, str | int | None] = {
            "lead_id": self.lead_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "lead_source": self.lead_source,
        }
        known: dict[str, str | int] = {name: v for name, v in values.items() if v is not None and v != ""}
        return known | self.qualification.field_values()


@dataclass(frozen=True, slots=True)
class CallLog:
    """One finished call; ``call_id`` is our id for it."""

    call_id: str
    direction: CallDirection
    outcome: CallOutcome
    started_at: datetime
    duration_seconds: int
    from_number: str
    to_number: str
    summary: str = ""
    recording_url: str | None = None
    qualification: Qualification = field(default_factory=Qualification)
    title: str = "AI voice agent call"

    def __post_init__(self) -> None:
        if not self.call_id:
            raise ValueError("call_id is required")
        _require_aware("started_at", self.started_at)
        if self.duration_seconds < 0:
            raise ValueError("duration_seconds must not be negative")

    @property
    def ended_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration_seconds)

    @property
    def prospect_number(self) -> str:
        """The other party's number: the caller on an inbound call, the callee on an outbound one."""
        return self.from_number if self.direction is CallDirection.INBOUND else self.to_number


@dataclass(frozen=True, slots=True)
class FollowUpTask:
    """Something a human agent should do for the lead by ``due_at``."""

    task_id: str
    title: str
    due_at: datetime
    notes: str = ""
    task_type: TaskType = TaskType.CALL

    def __post_init__(self) -> None:
        if not self.task_id:
            raise ValueError("task_id is required")
        _require_aware("due_at", self.due_at)


@dataclass(frozen=True, slots=True)
class Appointment:
    """A meeting booked with the lead (a consultation or a showing)."""

    appointment_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    location: str | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.appointment_id:
            raise ValueError("appointment_id is required")
        _require_aware("starts_at", self.starts_at)
        _require_aware("ends_at", self.ends_at)
        if self.ends_at <= self.starts_at:
            raise ValueError("an appointment must end after it starts")


@dataclass(frozen=True, slots=True)
class ContactMatch:
    """A lead or contact found in the CRM."""

    id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
