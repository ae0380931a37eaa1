"""POST /api/v1/voice/sessions: the gate decides, a line is reserved, Twilio places the call."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from compliance.models import GateDecision
from seiketsu.container import Container
from seiketsu.jobs.models import Job
from seiketsu.tenancy.scoping import system_session
from telephony.models import Call, CallDirection, CallOutcome, CallStatus
from tests.factories import login
from tests.telephony.outbound_support import (
    OUTBOUND_NUMBER,
    FakeClock,
    FakeTwilio,
    add_leads,
    outbound_org,
    put_on_dnc,
    use_clock,
)

LEAD = "+12125550142"


@pytest.fixture
def twilio(client: TestClient, container: Container) -> Iterator[FakeTwilio]:
    clock = FakeClock()
    use_clock(container, clock)
    with respx.mock(assert_all_called=False) as router:
        yield FakeTwilio(clock=clock).install(router)


def _calls(container: Container) -> list[Call]:
    with system_session(container.sessions) as session:
        return list(session.scalars(sa.select(Call).order_by(col(Call.created_at))))


def test_an_allowed_dial_places_the_call_with_amd_and_callbacks(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    response = client.post("/api/v1/voice/sessions", headers=login(client, org), json={"leadId": str(lead_id)})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["direction"] == "outbound" and body["status"] == "queued" and body["purpose"] == "marketing"
    [placed] = twilio.calls
    assert body["callSid"] == placed.sid and body["leadId"] == str(lead_id)
    call_id = body["id"]
    assert placed.form == {
        "To": [LEAD],
        "From": [OUTBOUND_NUMBER],
        "Url": [f"https://seiketsu.test/twilio/voice/outbound?callId={call_id}"],
        "StatusCallback": [f"https://seiketsu.test/twilio/status?callId={call_id}"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "MachineDetection": ["DetectMessageEnd"],
        "AsyncAmd": ["true"],
        "AsyncAmdStatusCallback": [f"https://seiketsu.test/twilio/amd?callId={call_id}"],
    }
    [call] = _calls(container)
    with system_session(container.sessions) as session:
        decision = session.get(GateDecision, call.gate_decision_id)
    assert decision is not None and decision.allowed and decision.permit_expires_at is not None
    assert decision.channel == "voice" and decision.voice == "artificial" and decision.lead_id == lead_id
    assert body["gateDecisionId"] == call.gate_decision_id


def test_a_blocked_dial_is_a_problem_naming_the_gates_reasons(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    put_on_dnc(container, org, [LEAD])
    container.jobs.registry.register("test.on_blocked", lambda context: None)
    container.events.subscribe("compliance.blocked", "test.on_blocked")
    response = client.post(
        "/api/v1/voice/sessions", headers=login(client, org), json={"leadId": str(lead_id), "purpose": "informational"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    blocking = {c["rule"] for c in problem["checks"] if c["result"] == "block"}
    assert blocking == {"federal.internal_dnc"}
    assert all({"rule", "result", "citation", "detail"} <= set(c) for c in problem["checks"])
    with system_session(container.sessions) as session:
        decision = session.get(GateDecision, problem["decisionId"])
    assert decision is not None and not decision.allowed and decision.purpose == "informational"
    assert twilio.calls == [] and _calls(container) == []
    with system_session(container.sessions) as session:
        [event] = session.scalars(sa.select(col(Job.payload)).where(col(Job.name) == "test.on_blocked"))
    assert event["event"] == "compliance.blocked" and event["context"] == "dial"
    assert event["decisionId"] == problem["decisionId"] and event["leadId"] == str(lead_id)
    assert [r["rule"] for r in event["reasons"]] == ["federal.internal_dnc"] and event["channel"] == "voice"


def test_twilio_rejecting_the_number_is_a_422_naming_it(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    twilio.call_errors[LEAD] = (400, 21211, f"The 'To' number {LEAD} is not a valid phone number.")
    response = client.post("/api/v1/voice/sessions", headers=login(client, org), json={"leadId": str(lead_id)})
    assert response.status_code == 422
    problem = response.json()
    assert LEAD in problem["detail"] and problem["errors"][0]["field"] == "body.leadId"
    [call] = _calls(container)
    assert call.status is CallStatus.FAILED and call.outcome is CallOutcome.FAILED and call.call_sid is None
    assert "21211" in call.provider_failures[0]


def test_twilio_unavailable_is_a_503_and_the_line_is_freed(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, limit=1)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    twilio.call_errors[LEAD] = (503, 20503, "Service Unavailable")
    headers = login(client, org)
    response = client.post("/api/v1/voice/sessions", headers=headers, json={"leadId": str(lead_id)})
    assert response.status_code == 503 and response.headers["retry-after"]
    del twilio.call_errors[LEAD]
    again = client.post("/api/v1/voice/sessions", headers=headers, json={"leadId": str(lead_id)})
    assert again.status_code == 201, "the failed call does not hold the organization's only line"


def test_the_concurrent_call_limit_counts_inbound_and_outbound_calls(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, limit=2)
    ids = add_leads(container, org, [LEAD, "+12125550143"])
    with system_session(container.sessions) as session:
        session.add(
            Call(
                organization_id=org.id,
                call_sid="CA" + "9" * 32,
                direction=CallDirection.INBOUND,
                from_number="+12125550199",
                to_number="+12125550100",
                status=CallStatus.IN_PROGRESS,
            )
        )
        session.commit()
    headers = login(client, org)
    first = client.post("/api/v1/voice/sessions", headers=headers, json={"leadId": str(ids[LEAD])})
    assert first.status_code == 201
    second = client.post("/api/v1/voice/sessions", headers=headers, json={"leadId": str(ids["+12125550143"])})
    assert second.status_code == 429 and "limit" in second.json()["detail"]
    assert len(twilio.calls) == 1


def test_an_organization_without_an_outbound_number_cannot_dial(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, outbound=False)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    response = client.post("/api/v1/voice/sessions", headers=login(client, org), json={"leadId": str(lead_id)})
    assert response.status_code == 422 and "outbound" in response.json()["detail"]
    assert twilio.calls == []


def test_the_twiml_url_and_callbacks_are_signed_urls_of_this_deployment(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    client.post("/api/v1/voice/sessions", headers=login(client, org), json={"leadId": str(lead_id)})
    url = urlsplit(twilio.calls[0].form["Url"][0])
    assert (url.scheme, url.netloc, url.path) == ("https", "seiketsu.test", "/twilio/voice/outbound")
    assert list(parse_qs(url.query)) == ["callId"]
