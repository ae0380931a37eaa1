"""The lead events a brokerage's webhooks receive from calls: lead.qualified once, appointment.booked per booking."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from agent.interfaces import Qualification
from agent.records import CallResult, TranscriptEntry
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Appointment, Lead
from seiketsu.tenancy.scoping import system_session, tenant_session
from telephony.call_actions import CallContext, TwilioCallActions
from telephony.calls import apply_status, record_result, start_inbound_call
from telephony.models import CallStatus
from tests.factories import login, make_org
from tests.telephony.conftest import CALLER as NEW_CALLER
from tests.telephony.conftest import twilio_post, voice_org, voice_params
from tests.telephony.outbound_support import run_jobs
from tests.webhooks.support import lead_created_endpoint, lead_created_events

BROKERAGE = "+15125550100"
CALLER = "+15125557777"


def _listen(container: Container, event: str) -> str:
    name = f"test.on_{event}"
    container.jobs.registry.register(name, lambda context: None)
    container.events.subscribe(event, name)
    return name


def _published(container: Container, name: str) -> list[dict[str, Any]]:
    with system_session(container.sessions) as session:
        return list(session.scalars(sa.select(col(Job.payload)).where(col(Job.name) == name)))


def _qualified() -> CallResult:
    return CallResult(
        outcome="qualified",
        transcript=(TranscriptEntry("caller", "I want to sell my condo in Austin next spring.", 0, 3000),),
        qualification=Qualification(intent="sell", area="Austin", property_type="condo", timeline="next spring"),
        turns=(),
        duration_ms=60_000,
    )


def test_a_call_from_a_new_number_delivers_lead_created_once(client: TestClient, container: Container) -> None:
    org = voice_org(container)
    with lead_created_endpoint(client, login(client, org)) as (fake, secret):
        assert twilio_post(client, "/twilio/voice", voice_params("CA" + "5" * 32)).status_code == 200
        assert twilio_post(client, "/twilio/voice", voice_params("CA" + "6" * 32)).status_code == 200
        run_jobs(container)
    with system_session(container.sessions) as session:
        lead = session.scalars(sa.select(Lead).where(col(Lead.phone) == NEW_CALLER)).one()
    [event] = lead_created_events(fake, secret)  # the second call is the same caller's: their lead exists
    assert event["leadId"] == str(lead.id) and event["phone"] == NEW_CALLER and event["source"] == "inbound_call"


def test_a_qualifying_call_publishes_lead_qualified_once(container: Container) -> None:
    org = make_org(container, "acme", numbers=(BROKERAGE,))
    listener = _listen(container, "lead.qualified")
    with tenant_session(container.sessions, org.id) as session:
        call = start_inbound_call(session, container.events, call_sid="CA" + "2" * 32, caller=CALLER, called=BROKERAGE)
        apply_status(call, CallStatus.IN_PROGRESS, duration=None, now=utcnow())
        assert record_result(session, container.events, call=call, result=_qualified())
        session.commit()
        call_id, lead_id = call.id, call.lead_id
    # a second qualifying call from the same lead: already qualified, nothing new to say
    with tenant_session(container.sessions, org.id) as session:
        again = start_inbound_call(session, container.events, call_sid="CA" + "3" * 32, caller=CALLER, called=BROKERAGE)
        apply_status(again, CallStatus.IN_PROGRESS, duration=None, now=utcnow())
        assert record_result(session, container.events, call=again, result=_qualified())
        session.commit()

    [event] = _published(container, listener)
    assert event["event"] == "lead.qualified" and event["callId"] == str(call_id)
    assert event["leadId"] == str(lead_id) and event["status"] == "qualified"
    assert event["qualification"]["propertyType"] == "condo"


async def test_booking_an_appointment_publishes_appointment_booked(container: Container) -> None:
    org = make_org(container, "acme", numbers=(BROKERAGE,))
    listener = _listen(container, "appointment.booked")
    with tenant_session(container.sessions, org.id) as session:
        call = start_inbound_call(session, container.events, call_sid="CA" + "4" * 32, caller=CALLER, called=BROKERAGE)
        session.commit()
        context = CallContext(
            call_id=call.id,
            organization_id=org.id,
            call_sid=call.call_sid,
            lead_id=call.lead_id,
            caller=CALLER,
            our_number=BROKERAGE,
            timezone="America/Chicago",
            transfer_number=None,
            office_address="500 Congress Ave, Austin",
        )

    async def close_stream() -> None:
        return None

    actions = TwilioCallActions(container=container, context=context, rest=None, close_stream=close_stream)
    starts_at = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    said = await actions.book_appointment(starts_at=starts_at, notes="listing walkthrough")
    assert said.endswith("at 500 Congress Ave, Austin")

    with system_session(container.sessions) as session:
        [appointment] = session.scalars(sa.select(Appointment)).all()
    [event] = _published(container, listener)
    assert event["event"] == "appointment.booked"
    assert event["appointmentId"] == str(appointment.id) and event["leadId"] == str(context.lead_id)
    assert event["callId"] == str(call.id) and event["notes"] == "listing walkthrough"
