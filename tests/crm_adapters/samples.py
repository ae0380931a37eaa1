"""Values shared by the adapter tests, and helpers to read what an adapter sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import respx

from crm_adapters.values import (
    Appointment,
    CallDirection,
    CallLog,
    CallOutcome,
    Contact,
    FollowUpTask,
    Qualification,
)

NOW = 1_777_000_000.0
"""The fixed POSIX time of the tests' clock."""

QUALIFICATION = Qualification(
    intent="buy", location="Austin, TX", timeline="0-3 months", budget=550000, financing="pre-approved"
)

CONTACT = Contact(
    lead_id="lead-42",
    phone="+15551234567",
    email="jane@example.com",
    first_name="Jane",
    last_name="Doe",
    lead_source="AI Voice Agent",
    qualification=QUALIFICATION,
)

PHONE_ONLY = Contact(lead_id="lead-43", phone="+15557654321")

CALL = CallLog(
    call_id="call-7f3a",
    direction=CallDirection.OUTBOUND,
    outcome=CallOutcome.CONNECTED,
    started_at=datetime(2026, 5, 1, 15, 0, tzinfo=UTC),
    duration_seconds=185,
    from_number="+15125550000",
    to_number="+15551234567",
    summary="Buyer relocating to Austin.",
    recording_url="https://recordings.example.com/abc.mp3",
    qualification=QUALIFICATION,
)

TASK = FollowUpTask(
    task_id="task-1",
    title="Call back Jane",
    due_at=datetime(2026, 5, 2, 15, 0, tzinfo=UTC),
    notes="Wants listings under 550k",
)

APPOINTMENT = Appointment(
    appointment_id="appt-1",
    title="Buyer consult",
    starts_at=datetime(2026, 5, 3, 15, 0, tzinfo=UTC),
    ends_at=datetime(2026, 5, 3, 15, 30, tzinfo=UTC),
    location="Office",
    notes="Booked by AI agent",
)


def clock() -> float:
    return NOW


def sent_json(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def sent_form(route: respx.Route, index: int = -1) -> dict[str, str]:
    form = parse_qs(route.calls[index].request.content.decode())
    return {key: values[0] for key, values in form.items()}
