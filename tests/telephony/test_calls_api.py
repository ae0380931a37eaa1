"""/api/v1/voice/sessions: a call's stored facts, camelCase on the wire like the rest of the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seiketsu.container import Container
from seiketsu.tenancy.scoping import tenant_session
from telephony.models import Call, CallDirection, CallOutcome, CallStatus
from tests.factories import login, make_org


def test_a_calls_qualification_and_latencies_have_camel_case_keys(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    with tenant_session(container.sessions, org.id) as session:
        call = Call(
            organization_id=org.id,
            direction=CallDirection.INBOUND,
            from_number="+15125550142",
            to_number="+15125550100",
            status=CallStatus.COMPLETED,
            outcome=CallOutcome.QUALIFIED,
            qualification={"intent": "sell", "property_type": "condo", "budget_max": 400000},
            latencies=[{"turn": 1, "endpointing_ms": 400.0, "stt_final_ms": 120.0, "overhead_ms": 3.5}],
        )
        session.add(call)
        session.commit()
        call_id = call.id
    headers = login(client, org)
    detail = client.get(f"/api/v1/voice/sessions/{call_id}", headers=headers).json()
    assert detail["qualification"] == {"intent": "sell", "propertyType": "condo", "budgetMax": 400000}
    assert detail["latencies"] == [{"turn": 1, "endpointingMs": 400.0, "sttFinalMs": 120.0, "overheadMs": 3.5}]
    [listed] = client.get("/api/v1/voice/sessions", headers=headers).json()["items"]
    assert listed["qualification"] == detail["qualification"]
