"""What a finished call becomes in a CRM: pure functions from the ``call.completed`` event to adapter values.

The event is telephony's self-contained snapshot of the call (see ``telephony.calls.completed_payload``); the lead
and the appointment come from kernel tables, read by the caller and handed in as plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_adapters.rendering import qualification_text
from crm_adapters.values import (
    Appointment,
    CallDirection,
    CallLog,
    CallOutcome,
    Contact,
    FollowUpTask,
    Qualification,
    TaskType,
)
from seiketsu.schemas import snake_keys

FOLLOW_UP_OUTCOMES = frozenset({"qualified", "transferred", "message_taken"})
"""Call outcomes after which a human agent should call the lead back."""

FOLLOW_UP_DELAY = {
    "qualified": timedelta(hours=24),
    "transferred": timedelta(hours=2),
    "message_taken": timedelta(hours=2),  # the caller was promised a callback
}
APPOINTMENT_LENGTH = timedelta(minutes=30)

_CONNECTED = frozenset({"qualified", "appointment_set", "transferred", "message_taken", "not_interested", "opted_out"})
_INTENTS = frozenset({"buy", "sell", "rent"})


def follow_up_task_id(call_id: str) -> str:
    """Our id of the follow-up task a call creates: one per call, whichever run creates it."""
    return f"{call_id}:follow-up"


def local_ids(payload: Mapping[str, Any]) -> list[str]:
    """Our ids of the call, task and appointment a ``call.completed`` payload can become (before parsing it)."""
    call_id = str(payload.get("callId") or "")
    ids = [call_id, follow_up_task_id(call_id)]
    if payload.get("appointmentId"):
        ids.append(str(payload["appointmentId"]))
    return ids


class InvalidEvent(ValueError):
    """The event payload lacks a field delivery needs, or holds one of the wrong type."""


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """The fields of a ``call.completed`` event that delivery uses."""

    call_id: str
    lead_id: str | None
    direction: CallDirection
    from_number: str
    to_number: str
    status: str
    outcome: str
    duration_seconds: int
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    qualification: Mapping[str, Any]
    summary: str
    appointment_id: str | None
    recording_url: str | None

    @property
    def prospect_number(self) -> str:
        return self.from_number if self.direction is CallDirection.INBOUND else self.to_number

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> CallCompleted:
        try:
            direction = CallDirection(str(payload.get("direction")))
        except ValueError as exc:
            raise InvalidEvent("direction must be inbound or outbound") from exc
        qualification = payload.get("qualification") or {}
        if not isinstance(qualification, Mapping):
            raise InvalidEvent("qualification must be an object")
        qualification = snake_keys(qualification)  # events carry camelCase keys; field mappings name snake_case
        duration = payload.get("durationSeconds")
        if duration is not None and (not isinstance(duration, int) or isinstance(duration, bool) or duration < 0):
            raise InvalidEvent("durationSeconds must be a non-negative integer")
        return cls(
            call_id=_required(payload, "callId"),
            lead_id=_optional(payload, "leadId"),
            direction=direction,
            from_number=_required(payload, "fromNumber"),
            to_number=_required(payload, "toNumber"),
            status=_optional(payload, "status") or "completed",
            outcome=_optional(payload, "outcome") or "failed",
            duration_seconds=duration or 0,
            started_at=_moment(payload, "startedAt"),
            answered_at=_moment(payload, "answeredAt"),
            ended_at=_moment(payload, "endedAt"),
            qualification=qualification,
            summary=_optional(payload, "summary") or "",
            appointment_id=_optional(payload, "appointmentId"),
            recording_url=_optional(payload, "recordingUrl"),
        )


def _optional(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string")
    return value


def _required(payload: Mapping[str, Any], name: str) -> str:
    value = _optional(payload, name)
    if value is None:
        raise InvalidEvent(f"{name} is required")
    return value


def _moment(payload: Mapping[str, Any], name: str) -> datetime | None:
    value = _optional(payload, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidEvent(f"{name} must be an ISO 8601 time") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LeadInfo:
    id: str
    phone: str
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class AppointmentInfo:
    id: str
    starts_at: datetime
    notes: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    """Everything one delivery writes, in order: the contact, the call, then a task and an appointment if any."""

    contact: Contact
    call: CallLog
    task: FollowUpTask | None
    appointment: Appointment | None


def qualification_of(event: CallCompleted) -> Qualification:
    answers = event.qualification
    intent = answers.get("intent")
    budget = answers.get("budget")
    return Qualification(
        intent=intent if intent in _INTENTS else None,
        location=_text(answers.get("area")),
        timeline=_text(answers.get("timeline")),
        budget=budget if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0 else None,
        financing=_label(answers.get("financing")),
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _label(value: Any) -> str | None:
    """An enum-like answer for people to read: ``pre_approved`` -> ``pre approved``."""
    text = _text(value)
    return text.replace("_", " ") if text else None


def call_outcome(event: CallCompleted) -> CallOutcome:
    """Our outcome as a telephone would tell it: a conversation, voicemail, no answer, busy or failure."""
    if event.outcome in _CONNECTED:
        return CallOutcome.CONNECTED
    if event.outcome == "voicemail":
        return CallOutcome.VOICEMAIL
    if event.outcome == "no_answer":
        return CallOutcome.BUSY if event.status == "busy" else CallOutcome.NO_ANSWER
    return CallOutcome.FAILED


def _contact(event: CallCompleted, lead: LeadInfo | None, qualification: Qualification) -> Contact:
    spoken_name = _text(event.qualification.get("name")) or ""
    first, _, last = spoken_name.partition(" ")
    spoken_email = _text(event.qualification.get("email"))
    if lead is None:
        return Contact(
            lead_id=f"phone:{event.prospect_number}",
            phone=event.prospect_number,
            email=spoken_email,
            first_name=first or None,
            last_name=last or None,
            qualification=qualification,
        )
    return Contact(
        lead_id=lead.id,
        phone=lead.phone or event.prospect_number,
        email=lead.email or spoken_email,
        first_name=lead.first_name or first or None,
        last_name=lead.last_name or last or None,
        lead_source=lead.source,
        qualification=qualification,
    )


def build_plan(
    event: CallCompleted, *, lead: LeadInfo | None, appointment: AppointmentInfo | None, now: datetime
) -> DeliveryPlan:
    """The records one call becomes; ``appointment`` is the row named by the event's ``appointmentId``."""
    qualification = qualification_of(event)
    contact = _contact(event, lead, qualification)
    ended_at = event.ended_at or now
    started_at = event.answered_at or event.started_at or ended_at - timedelta(seconds=event.duration_seconds)
    outcome_label = event.outcome.replace("_", " ")
    call = CallLog(
        call_id=event.call_id,
        direction=event.direction,
        outcome=call_outcome(event),
        started_at=started_at,
        duration_seconds=event.duration_seconds,
        from_number=event.from_number,
        to_number=event.to_number,
        summary=event.summary,
        recording_url=event.recording_url,
        qualification=qualification,
        title=f"AI voice agent call: {outcome_label}",
    )
    who = contact.full_name or contact.phone or contact.email or "the lead"
    task = None
    if event.outcome in FOLLOW_UP_OUTCOMES:
        notes = [f"Call outcome: {outcome_label}."]
        if answers := qualification_text(qualification):
            notes.append(answers)
        if property_type := _label(event.qualification.get("property_type")):
            notes.append(f"Property type: {property_type}")
        if message := _text(event.qualification.get("callback_message")):
            notes.append(f"Message from the caller: {message}")
        task = FollowUpTask(
            task_id=follow_up_task_id(event.call_id),
            title=f"Follow up with {who}",
            due_at=ended_at + FOLLOW_UP_DELAY[event.outcome],
            notes="\n".join(notes),
            task_type=TaskType.CALL,
        )
    booked = None
    if appointment is not None and event.appointment_id == appointment.id:
        booked = Appointment(
            appointment_id=appointment.id,
            title=f"Consultation with {who}",
            starts_at=appointment.starts_at,
            ends_at=appointment.starts_at + APPOINTMENT_LENGTH,
            notes=appointment.notes or "Booked by the AI voice agent",
        )
    return DeliveryPlan(contact=contact, call=call, task=task, appointment=booked)
