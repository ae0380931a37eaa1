"""From a call.completed event to the contact, call log, task and appointment a CRM receives (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_adapters.outcome_plan import (
    AppointmentInfo,
    CallCompleted,
    InvalidEvent,
    LeadInfo,
    build_plan,
    call_outcome,
)
from crm_adapters.values import CallDirection, CallOutcome, TaskType

NOW = datetime(2026, 5, 1, 16, 0, tzinfo=UTC)
LEAD = LeadInfo(id="lead-1", phone="+15125557000", first_name="Jane", last_name="Doe", email="jane@example.com",
                source="zillow")  # fmt: skip


def event(**changes: object) -> CallCompleted:
    payload: dict[str, object] = {
        "event": "call.completed",
        "callId": "call-1",
        "callSid": "CA123",
        "leadId": "lead-1",
        "direction": "inbound",
        "fromNumber": "+15125557000",
        "toNumber": "+15125550100",
        "status": "completed",
        "outcome": "qualified",
        "purpose": None,
        "durationSeconds": 185,
        "startedAt": "2026-05-01T14:59:55+00:00",
        "answeredAt": "2026-05-01T15:00:00+00:00",
        "endedAt": "2026-05-01T15:03:05+00:00",
        "qualification": {"intent": "buy", "area": "Austin", "property_type": "single_family", "timeline": "0-3 months",
                          "budget": 550000, "financing": "pre_approved", "name": "Janet Spoken",
                          "email": "spoken@example.com"},  # fmt: skip
        "summary": "Caller: buying in Austin",
        "appointmentId": None,
        "recordingUrl": None,
    }
    payload.update(changes)
    return CallCompleted.from_payload(payload)


def test_a_qualified_inbound_call_becomes_contact_call_and_follow_up_task():
    plan = build_plan(event(), lead=LEAD, appointment=None, now=NOW)
    contact = plan.contact
    assert (contact.lead_id, contact.phone, contact.email) == ("lead-1", "+15125557000", "jane@example.com")
    assert (contact.first_name, contact.last_name, contact.lead_source) == ("Jane", "Doe", "zillow")
    q = contact.qualification
    assert (q.intent, q.location, q.timeline, q.budget, q.financing) == (
        "buy", "Austin", "0-3 months", 550000, "pre approved"
    )  # fmt: skip
    call = plan.call
    assert call.call_id == "call-1" and call.direction is CallDirection.INBOUND
    assert call.outcome is CallOutcome.CONNECTED and call.duration_seconds == 185
    assert call.started_at == datetime(2026, 5, 1, 15, 0, tzinfo=UTC)
    assert call.title == "AI voice agent call: qualified" and call.summary == "Caller: buying in Austin"
    assert plan.task is not None
    assert plan.task.task_id == "call-1:follow-up" and plan.task.task_type is TaskType.CALL
    assert plan.task.title == "Follow up with Jane Doe"
    assert plan.task.due_at == datetime(2026, 5, 2, 15, 3, 5, tzinfo=UTC)
    assert "Budget: 550,000" in plan.task.notes and "Property type: single family" in plan.task.notes
    assert plan.appointment is None


def test_a_message_taken_becomes_a_prompt_callback_task_carrying_the_message():
    plan = build_plan(event(outcome="message_taken", qualification={"callback_message": "call me about my listing"}),
                      lead=LEAD, appointment=None, now=NOW)  # fmt: skip
    assert plan.call.outcome is CallOutcome.CONNECTED
    assert plan.task is not None and plan.task.due_at == datetime(2026, 5, 1, 17, 3, 5, tzinfo=UTC)
    assert "Message from the caller: call me about my listing" in plan.task.notes


def test_without_a_lead_the_prospect_number_and_spoken_details_identify_the_contact():
    plan = build_plan(event(leadId=None, direction="outbound", fromNumber="+15125550100", toNumber="+15125558888"),
                      lead=None, appointment=None, now=NOW)  # fmt: skip
    assert plan.contact.lead_id == "phone:+15125558888" and plan.contact.phone == "+15125558888"
    assert (plan.contact.first_name, plan.contact.last_name) == ("Janet", "Spoken")
    assert plan.contact.email == "spoken@example.com"


def test_an_appointment_set_call_books_the_appointment_and_needs_no_task():
    starts = datetime(2026, 5, 4, 17, 0, tzinfo=UTC)
    booked = AppointmentInfo(id="appt-9", starts_at=starts, notes="Showing at 12 Elm St")
    plan = build_plan(event(outcome="appointment_set", appointmentId="appt-9"), lead=LEAD, appointment=booked, now=NOW)
    assert plan.task is None
    assert plan.appointment is not None
    assert plan.appointment.appointment_id == "appt-9" and plan.appointment.starts_at == starts
    assert plan.appointment.ends_at == starts + timedelta(minutes=30)
    assert plan.appointment.notes == "Showing at 12 Elm St"


@pytest.mark.parametrize(
    ("outcome", "status", "expected", "task"),
    [
        ("transferred", "completed", CallOutcome.CONNECTED, True),
        ("not_interested", "completed", CallOutcome.CONNECTED, False),
        ("opted_out", "completed", CallOutcome.CONNECTED, False),
        ("voicemail", "completed", CallOutcome.VOICEMAIL, False),
        ("no_answer", "no-answer", CallOutcome.NO_ANSWER, False),
        ("no_answer", "busy", CallOutcome.BUSY, False),
        ("failed", "failed", CallOutcome.FAILED, False),
    ],
)
def test_every_outcome_maps_to_a_disposition_and_only_warm_ones_get_a_task(outcome, status, expected, task):
    e = event(outcome=outcome, status=status)
    assert call_outcome(e) is expected
    assert (build_plan(e, lead=LEAD, appointment=None, now=NOW).task is not None) is task


def test_missing_times_fall_back_to_the_end_and_duration():
    plan = build_plan(event(startedAt=None, answeredAt=None, endedAt=None, durationSeconds=None), lead=LEAD,
                      appointment=None, now=NOW)  # fmt: skip
    assert plan.call.started_at == NOW and plan.call.duration_seconds == 0


@pytest.mark.parametrize(
    "changes",
    [{"callId": None}, {"direction": "sideways"}, {"qualification": "buy"}, {"durationSeconds": -1},
     {"startedAt": "yesterday"}, {"fromNumber": 5125550100}],  # fmt: skip
)
def test_an_unusable_event_is_rejected_with_the_field_named(changes):
    with pytest.raises(InvalidEvent):
        event(**changes)
