"""The issue's "done when": HubSpot configured through the API, a call finished by telephony, the CRM updated once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from agent.interfaces import Qualification
from agent.records import CallResult, TranscriptEntry
from crm_adapters.fake_server import FakeHubSpot
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.tenancy.scoping import tenant_session
from telephony.calls import apply_status, record_result, start_inbound_call
from telephony.models import CallStatus
from tests.factories import login, make_org

from .delivery_support import UNIQUE_PROPERTIES, asgi_client, configure_hubspot, deliveries, run_jobs, use_http

BROKERAGE = "+15125550100"
CALLER = "+15125557777"


def test_a_finished_call_puts_contact_call_and_follow_up_into_hubspot_exactly_once(
    client: TestClient, container: Container
) -> None:
    fake = FakeHubSpot(unique_properties=UNIQUE_PROPERTIES)
    use_http(container, asgi_client(fake.app))
    org = make_org(container, "acme", numbers=(BROKERAGE,))
    headers = login(client, org)
    mapping = {"budget": "ai_budget", "timeline": "ai_timeline", "location": "ai_area"}
    integration_id = configure_hubspot(client, headers, fake, fieldMapping=mapping)
    assert client.post(f"/api/v1/integrations/{integration_id}/test", headers=headers).json()["ok"] is True

    result = CallResult(
        outcome="qualified",
        transcript=(
            TranscriptEntry("agent", "Thanks for calling Acme Realty, how can I help?", 0, 2500),
            TranscriptEntry("caller", "I'd like to buy a condo in Austin within three months.", 3000, 6500),
        ),
        qualification=Qualification(intent="buy", area="Austin", property_type="condo", timeline="within 3 months",
                                    budget=550000, financing="pre_approved", name="Jane Doe",
                                    email="jane@example.com"),  # fmt: skip
        turns=(),
        duration_ms=185_000,
    )
    with tenant_session(container.sessions, org.id) as session:
        call = start_inbound_call(session, container.events, call_sid="CA" + "1" * 32, caller=CALLER, called=BROKERAGE)
        apply_status(call, CallStatus.IN_PROGRESS, duration=None, now=utcnow())
        assert record_result(session, container.events, call=call, result=result)
        session.commit()
        call_id = str(call.id)
    run_jobs(container)

    [contact] = fake.objects["contacts"].values()
    assert contact.properties["email"] == "jane@example.com" and contact.properties["phone"] == CALLER
    assert (contact.properties["firstname"], contact.properties["lastname"]) == ("Jane", "Doe")
    assert contact.properties["ai_budget"] == "550000" and contact.properties["ai_area"] == "Austin"
    [logged] = fake.objects["calls"].values()
    assert logged.properties["hs_call_direction"] == "INBOUND"
    assert logged.properties["hs_call_disposition"] == "f240bbac-87c9-4f6e-bf70-924b57d47db7"  # connected
    assert "I&#x27;d like to buy a condo in Austin" in logged.properties["hs_call_body"]
    assert f"Call ID: {call_id}" in logged.properties["hs_call_body"]
    [task] = fake.objects["tasks"].values()
    assert task.properties["hs_task_subject"] == "Follow up with Jane Doe"
    assert "Property type: condo" in task.properties["hs_task_body"]
    assert logged.associations == task.associations == {("contacts", contact.id)}

    # Twilio's final status callback records the same call again: nothing new is published or delivered
    with tenant_session(container.sessions, org.id) as session:
        again = session.get(type(call), call.id)
        assert again is not None
        assert not record_result(session, container.events, call=again, result=result)
        session.commit()
    run_jobs(container)
    assert len(fake.created) == 3 and len(deliveries(container, org)) == 1
