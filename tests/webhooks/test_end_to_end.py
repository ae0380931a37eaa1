"""Issue #7 done: a signed HubSpot contact-creation webhook for a consenting lead in calling hours leads to a placed
call within seconds (Twilio REST faked at the HTTP level); the same webhook replayed does nothing; a forged one gets
401; and the brokerage's endpoint receives the signed call.completed event."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from compliance.consent import ConsentKind
from compliance.ledger import Evidence, GrantSource, record_grant
from compliance.vocabulary import ConsentChannel, Purpose
from seiketsu.container import Container
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session, tenant_session
from tests.crm_adapters.delivery_support import make_integration, vendor_mocks
from tests.factories import login
from tests.telephony.outbound_support import NOW, FakeClock, FakeTwilio, outbound_org, run_jobs, use_clock
from tests.webhooks.support import create_source, enable_speed_to_lead, hubspot_headers, path_of, receiver, to_bytes

PHONE = "+12125550142"
CLIENT_SECRET = "hubspot-app-client-secret"


def test_hubspot_lead_to_placed_call_to_signed_call_completed(
    client: TestClient, container: Container, local_targets: None
) -> None:
    clock = FakeClock()
    use_clock(container, clock)
    org = outbound_org(container)
    enable_speed_to_lead(container, org, delay=0)
    with tenant_session(container.sessions, org.id) as session:
        record_grant(
            session, phone=PHONE, kind=ConsentKind.WRITTEN, channels=tuple(ConsentChannel), purposes=tuple(Purpose),
            source=GrantSource.WEB_FORM, granted_at=NOW - timedelta(days=1),
            evidence=Evidence(form_url="https://lonestar.example/contact", text_shown="I agree."),
            recorded_by="user:test",
        )  # fmt: skip
        session.commit()
    headers = login(client, org)
    vendor_mocks(container)
    integration_id = make_integration(container, org, credentials={"access_token": "pat-na1-e2e"}, settings={})
    source = create_source(
        client, headers, provider="hubspot", name="HubSpot", integrationId=str(integration_id), secret=CLIENT_SECRET
    )
    with receiver() as (brokerage, url), respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        twilio = FakeTwilio(clock=clock).install(router)
        router.get("https://api.hubapi.com/crm/objects/2026-03/contacts/5101").mock(
            return_value=httpx.Response(
                200, json={"id": "5101", "properties": {"firstname": "Dana", "lastname": "Reyes", "phone": PHONE}}
            )
        )
        endpoint = client.post(
            "/api/v1/webhook-endpoints", headers=headers, json={"url": f"{url}/seiketsu", "events": ["call.completed"]}
        ).json()

        body = to_bytes(
            [{"eventId": 880001, "subscriptionId": 12345, "portalId": 62515, "occurredAt": int(time.time() * 1000),
              "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 5101, "changeSource": "FORM",
              "changeFlag": "NEW", "appId": 54321}]
        )  # fmt: skip
        signed = hubspot_headers(CLIENT_SECRET, f"https://seiketsu.test{path_of(source)}", body)
        started = time.monotonic()
        response = client.post(path_of(source), content=body, headers=signed)
        assert response.status_code == 200 and response.json() == {"accepted": 1, "duplicates": 0}
        run_jobs(container)
        [placed] = twilio.calls
        assert placed.to == PHONE
        assert time.monotonic() - started < 5, "the lead is called within seconds"

        replay = client.post(path_of(source), content=body, headers=signed)
        assert replay.status_code == 200 and replay.json() == {"accepted": 0, "duplicates": 1}
        run_jobs(container)
        assert len(twilio.calls) == 1
        with system_session(container.sessions) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 1

        forged = dict(
            signed, **{"X-HubSpot-Signature-v3": hubspot_headers("guess", "x", body)["X-HubSpot-Signature-v3"]}
        )
        assert client.post(path_of(source), content=body, headers=forged).status_code == 401

        twilio.finish(client, placed.sid, "completed", duration=42)
        run_jobs(container)
        [delivered] = brokerage.at("/seiketsu")
    event = Webhook(endpoint["secret"]).verify(delivered.body, delivered.headers)
    assert event["type"] == "call.completed"
    assert event["data"]["callSid"] == placed.sid and event["data"]["toNumber"] == PHONE
    assert event["data"]["direction"] == "outbound" and event["data"]["durationSeconds"] == 42
