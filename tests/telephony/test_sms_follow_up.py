"""Texts after a call: the organization's template for the outcome, through the gate, delivery status stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from compliance.internal_dnc import is_on_internal_list
from seiketsu.container import Container
from seiketsu.leads.models import Appointment
from seiketsu.tenancy.scoping import system_session, tenant_session
from telephony.models import Call, CallDirection, CallStatus
from telephony.sms_follow_up import TemplateError, render, template_for
from telephony.sms_models import SmsMessage, SmsStatus
from tests.factories import OrgFixture, login
from tests.telephony.conftest import twilio_post
from tests.telephony.outbound_support import (
    ACCOUNT,
    INBOUND_NUMBER,
    FakeClock,
    FakeTwilio,
    add_leads,
    outbound_org,
    run_jobs,
    use_clock,
)

LEAD = "+12125550142"
TEMPLATES = {
    "appointment_set": "Hi {firstName}, you're booked with {businessName} on {appointmentTime} at {officeAddress}. "
    "Reply STOP to opt out.",
    "voicemail": {"body": "Hi {firstName}, {agentName} tried to reach you. Call {callbackNumber}.", "purpose": "bad"},
    "qualified": "Hi {firstName}, thanks! Your code is {promoCode}.",
}
SETTINGS = {"smsTemplates": TEMPLATES, "officeAddress": "12 Main St, Austin"}


@pytest.fixture
def twilio(client: TestClient, container: Container) -> Iterator[FakeTwilio]:
    clock = FakeClock()
    use_clock(container, clock)
    with respx.mock(assert_all_called=False) as router:
        yield FakeTwilio(clock=clock).install(router)


def _call(container: Container, org: OrgFixture, lead_id: uuid.UUID, *, appointment: bool = False) -> uuid.UUID:
    """An inbound call that ended (with an appointment booked on it, if asked)."""
    with tenant_session(container.sessions, org.id) as session:
        call = Call(
            call_sid="CA" + uuid.uuid4().hex,
            direction=CallDirection.INBOUND,
            from_number=LEAD,
            to_number=INBOUND_NUMBER,
            lead_id=lead_id,
            status=CallStatus.COMPLETED,
        )
        session.add(call)
        session.flush()
        if appointment:
            session.add(
                Appointment(
                    lead_id=lead_id,
                    call_id=call.id,
                    starts_at=datetime(2025, 6, 12, 19, 0, tzinfo=UTC),
                    timezone="America/New_York",
                )
            )
        session.commit()
        return call.id


def _messages(container: Container) -> list[SmsMessage]:
    with system_session(container.sessions) as session:
        return list(session.scalars(sa.select(SmsMessage).order_by(col(SmsMessage.created_at))))


def _publish(container: Container, org: OrgFixture, payload: dict[str, Any]) -> None:
    with tenant_session(container.sessions, org.id) as session:
        container.events.publish(session, "call.completed", payload)
        session.commit()


def _completed(
    call_id: uuid.UUID, lead_id: uuid.UUID, outcome: str, appointment_id: str | None = None
) -> dict[str, Any]:
    return {
        "callId": str(call_id),
        "leadId": str(lead_id),
        "direction": "inbound",
        "fromNumber": LEAD,
        "toNumber": INBOUND_NUMBER,
        "status": "completed",
        "outcome": outcome,
        "appointmentId": appointment_id,
    }


def test_an_appointment_confirmation_is_sent_once_and_its_delivery_stored(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, settings=SETTINGS)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    call_id = _call(container, org, lead_id, appointment=True)
    with system_session(container.sessions) as session:
        appointment_id = session.scalars(sa.select(col(Appointment.id))).one()
    payload = _completed(call_id, lead_id, "appointment_set", str(appointment_id))
    _publish(container, org, payload)
    _publish(container, org, payload)  # the event is delivered at least once
    run_jobs(container)
    [sent] = twilio.messages
    assert sent["To"] == [LEAD] and sent["From"] == [INBOUND_NUMBER]
    assert sent["Body"] == [
        "Hi Dana, you're booked with Lone Star Realty on Thursday, June 12 at 3:00 PM at 12 Main St, Austin. "
        "Reply STOP to opt out."
    ]
    callback = urlsplit(sent["StatusCallback"][0])
    [message] = _messages(container)
    assert (callback.path, callback.query) == ("/twilio/sms/status", f"messageId={message.id}")
    assert message.status is SmsStatus.QUEUED and message.message_sid and message.gate_decision_id
    assert message.purpose == "informational" and message.call_id == call_id and message.lead_id == lead_id

    def report(status: str, **extra: str) -> None:
        params = {"MessageSid": message.message_sid or "", "MessageStatus": status, "AccountSid": ACCOUNT, **extra}
        response = twilio_post(client, f"/twilio/sms/status?{callback.query}", params)
        assert response.status_code == 204

    report("sent")
    report("delivered")
    report("sent")  # late and out of order: ignored
    assert _messages(container)[0].status is SmsStatus.DELIVERED
    assert client.get(f"/api/v1/leads/{lead_id}/messages", headers=login(client, org)).json()["items"][0][
        "status"
    ] == "delivered"


def test_an_undelivered_text_keeps_twilios_error_code(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, settings={"smsTemplates": {"failed": "Sorry we missed you, {firstName}."}})
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    _publish(container, org, _completed(_call(container, org, lead_id), lead_id, "failed"))
    run_jobs(container)
    [message] = _messages(container)
    params = {"MessageSid": message.message_sid or "", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert twilio_post(client, "/twilio/sms/status", params).status_code == 204
    stored = _messages(container)[0]
    assert stored.status is SmsStatus.UNDELIVERED and stored.error_code == 30003


def test_twilio_21610_fails_the_text_and_puts_the_number_on_the_internal_list(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, settings={"smsTemplates": {"failed": "Sorry we missed you, {firstName}."}})
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    twilio.message_errors[LEAD] = (400, 21610, "Attempt to send to unsubscribed recipient")
    _publish(container, org, _completed(_call(container, org, lead_id), lead_id, "failed"))
    run_jobs(container)
    [message] = _messages(container)
    assert message.status is SmsStatus.FAILED and message.error_code == 21610
    with tenant_session(container.sessions, org.id) as session:
        assert is_on_internal_list(session, LEAD)


def test_a_text_the_gate_blocks_is_stored_blocked_and_not_sent(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, settings={"smsTemplates": {"failed": "Sorry we missed you, {firstName}."}})
    lead_id = add_leads(container, org, [LEAD], consent=False)[LEAD]
    _publish(container, org, _completed(_call(container, org, lead_id), lead_id, "failed"))
    run_jobs(container)
    [message] = _messages(container)
    assert message.status is SmsStatus.BLOCKED and message.gate_decision_id
    assert "consent" in (message.error_message or "")
    assert twilio.messages == []


def test_no_template_or_an_unrenderable_one_sends_nothing(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, settings=SETTINGS)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    for outcome in ("not_interested", "opted_out", "qualified", "voicemail"):
        _publish(container, org, _completed(_call(container, org, lead_id), lead_id, outcome))
    run_jobs(container)
    assert _messages(container) == [] and twilio.messages == []


def test_templates_and_rendering() -> None:
    assert template_for(SETTINGS, "appointment_set") is not None
    assert template_for(SETTINGS, "voicemail") is None, "an unknown purpose is not guessed"
    assert template_for({"smsTemplates": {"voicemail": {"body": "Hi", "purpose": "marketing"}}}, "voicemail")
    assert template_for({"smsTemplates": {"opted_out": "Bye"}}, "opted_out") is None, "an opt-out is never texted"
    assert render("Hi {firstName}!", {"firstName": "Dana"}) == "Hi Dana!"
    for body in ("Code {promoCode}", "Hi {firstName!r}", "Hi {firstName", "At {appointmentTime}"):
        with pytest.raises(TemplateError):
            render(body, {"firstName": "Dana", "appointmentTime": None})
