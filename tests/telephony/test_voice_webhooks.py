"""POST /twilio/voice and /twilio/status: signatures, routing by number, call records, concurrency limit."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from seiketsu.container import Container
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session
from telephony.models import Call, CallOutcome, CallStatus
from telephony.signatures import verify_stream_token
from tests.conftest import TEST_SECRET
from tests.telephony.conftest import BROKERAGE_NUMBER, CALLER, twilio_post, voice_org, voice_params


def _calls(container: Container) -> list[Call]:
    with system_session(container.sessions) as session:
        return list(session.scalars(sa.select(Call).order_by(col(Call.created_at))))


def test_unsigned_or_forged_webhooks_are_403(client: TestClient, container: Container) -> None:
    voice_org(container)
    assert client.post("/twilio/voice", data=voice_params()).status_code == 403
    forged = twilio_post(client, "/twilio/voice", voice_params(), signature="bm90IGEgc2lnbmF0dXJl")
    assert forged.status_code == 403
    assert forged.headers["content-type"] == "application/problem+json"
    status = {"CallSid": "CA1", "CallStatus": "completed"}
    assert twilio_post(client, "/twilio/status", status, signature="x").status_code == 403
    assert _calls(container) == []


def test_inbound_call_is_answered_with_a_media_stream(client: TestClient, container: Container) -> None:
    org = voice_org(container)
    response = twilio_post(client, "/twilio/voice", voice_params())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    stream = root.find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://seiketsu.test/twilio/media"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    [call] = _calls(container)
    assert params["callId"] == str(call.id)
    assert verify_stream_token(TEST_SECRET, params["token"] or "", now=time.time()) == str(call.id)
    assert call.organization_id == org.id and call.status is CallStatus.RINGING
    assert (call.from_number, call.to_number, call.direction) == (CALLER, BROKERAGE_NUMBER, "inbound")
    with system_session(container.sessions) as session:
        lead = session.get(Lead, call.lead_id)
        assert lead is not None and lead.phone == CALLER and lead.source == "inbound_call"
    # Twilio retries a webhook it got no answer to: the same CallSid is the same call.
    twilio_post(client, "/twilio/voice", voice_params())
    assert len(_calls(container)) == 1


def test_a_known_caller_is_matched_to_their_lead(client: TestClient, container: Container) -> None:
    org = voice_org(container)
    with system_session(container.sessions) as session:
        session.add(Lead(organization_id=org.id, phone=CALLER, first_name="Maria"))
        session.commit()
    twilio_post(client, "/twilio/voice", voice_params())
    with system_session(container.sessions) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 1


def test_unknown_number_hears_a_message_and_nothing_is_recorded(client: TestClient, container: Container) -> None:
    voice_org(container)
    response = twilio_post(client, "/twilio/voice", voice_params(to="+15125559999"))
    root = ET.fromstring(response.text)
    assert root.find("./Say") is not None and root.find("./Hangup") is not None
    assert "not in service" in response.text
    assert _calls(container) == []


def test_over_the_concurrency_limit_the_caller_hears_a_polite_message(client: TestClient, container: Container) -> None:
    voice_org(container, limit=1)
    first = twilio_post(client, "/twilio/voice", voice_params("CA" + "1" * 32))
    assert "<Stream" in first.text
    second = twilio_post(client, "/twilio/voice", voice_params("CA" + "2" * 32, caller="+15125550143"))
    assert "<Stream" not in second.text and "Lone Star Realty" in second.text and "call back" in second.text
    refused = [c for c in _calls(container) if c.call_sid == "CA" + "2" * 32][0]
    assert refused.outcome is CallOutcome.FAILED
    # Once the first call ends, the line is free again.
    twilio_post(client, "/twilio/status", {"CallSid": "CA" + "1" * 32, "CallStatus": "completed", "CallDuration": "3"})
    third = twilio_post(client, "/twilio/voice", voice_params("CA" + "3" * 32, caller="+15125550144"))
    assert "<Stream" in third.text


def test_status_callbacks_move_the_call_forward_only(client: TestClient, container: Container) -> None:
    voice_org(container)
    sid = "CA" + "1" * 32
    twilio_post(client, "/twilio/voice", voice_params(sid))
    for status in ("in-progress", "ringing"):
        assert twilio_post(client, "/twilio/status", {"CallSid": sid, "CallStatus": status}).status_code == 204
    [call] = _calls(container)
    assert call.status is CallStatus.IN_PROGRESS and call.answered_at is not None
    bad = twilio_post(client, "/twilio/status", {"CallSid": sid, "CallStatus": "exploded"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "form.CallStatus"


def test_a_call_that_never_reached_the_agent_is_recorded_as_no_answer(client: TestClient, container: Container) -> None:
    voice_org(container)
    container.jobs.registry.register("test.on_call_completed", lambda context: None)
    container.events.subscribe("call.completed", "test.on_call_completed")
    sid = "CA" + "1" * 32
    twilio_post(client, "/twilio/voice", voice_params(sid))
    twilio_post(client, "/twilio/status", {"CallSid": sid, "CallStatus": "no-answer", "CallDuration": "0"})
    twilio_post(client, "/twilio/status", {"CallSid": sid, "CallStatus": "no-answer", "CallDuration": "0"})
    [call] = _calls(container)
    assert call.status is CallStatus.NO_ANSWER and call.outcome is CallOutcome.NO_ANSWER and call.ended_at
    with system_session(container.sessions) as session:
        jobs = list(session.scalars(sa.select(Job).where(col(Job.name) == "test.on_call_completed")))
    assert len(jobs) == 1 and jobs[0].payload["callId"] == str(call.id)
    assert jobs[0].payload["outcome"] == "no_answer"
