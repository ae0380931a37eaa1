"""POST /webhooks/{provider}/{integrationId}: verified over the raw bytes, each event kept once, the lead made or
updated by a job (thin payloads fetched through the CRM adapter), consent captured into the ledger."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from compliance.models import ConsentRecord
from crm_adapters.models import Integration
from seiketsu.container import Container
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session, tenant_session
from tests.crm_adapters.delivery_support import make_integration
from tests.factories import OrgFixture, login, make_org
from tests.telephony.outbound_support import run_jobs
from tests.webhooks.support import (
    create_source,
    fub_headers,
    hubspot_headers,
    path_of,
    standard_headers,
    to_bytes,
)
from webhooks.models import InboundEvent, InboundStatus

PHONE = "+12125550142"
HUBSPOT_CONTACT = "https://api.hubapi.com/crm/objects/2026-03/contacts"
FORM = {
    "firstName": "Dana",
    "lastName": "Reyes",
    "email": "dana@example.com",
    "phone": "(212) 555-0142",
    "consent": {
        "text": "I agree to be called and texted by Lone Star Realty, including by AI voice, at this number.",
        "pageUrl": "https://lonestar.example/contact",
        "grantedAt": "2025-06-10T14:59:00+00:00",
        "ipAddress": "203.0.113.7",
    },
}


@pytest.fixture
def org(container: Container) -> OrgFixture:
    return make_org(container, "inbound")


@pytest.fixture
def crm() -> Iterator[respx.Router]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def _leads(container: Container) -> list[Lead]:
    with system_session(container.sessions) as session:
        return list(session.scalars(sa.select(Lead).order_by(col(Lead.created_at))))


def _events(container: Container) -> list[InboundEvent]:
    with system_session(container.sessions) as session:
        return list(session.scalars(sa.select(InboundEvent).order_by(col(InboundEvent.received_at))))


def _post(client: TestClient, path: str, body: bytes, headers: dict[str, str]):
    return client.post(path, content=body, headers=headers)


def test_a_signed_form_makes_a_lead_with_its_consent_and_a_replay_does_nothing(
    client: TestClient, container: Container, org: OrgFixture
) -> None:
    source = create_source(client, login(client, org), provider="generic", name="Contact form")
    secret = source["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in client.get("/api/v1/webhook-sources", headers=login(client, org)).json()["items"][0]
    body = to_bytes(FORM)
    headers = standard_headers(secret, body)
    first = _post(client, path_of(source), body, headers)
    assert first.status_code == 200 and first.json() == {"accepted": 1, "duplicates": 0}
    replay = _post(client, path_of(source), body, headers)
    assert replay.status_code == 200 and replay.json() == {"accepted": 0, "duplicates": 1}
    run_jobs(container)
    [lead] = _leads(container)
    assert (lead.phone, lead.first_name, lead.last_name, lead.email) == (PHONE, "Dana", "Reyes", "dana@example.com")
    assert lead.source == "web_form" and lead.last_inquiry_at is not None
    [event] = _events(container)
    assert event.status == InboundStatus.PROCESSED and event.lead_id == lead.id
    with system_session(container.sessions) as session:
        [consent] = session.scalars(sa.select(ConsentRecord)).all()
    assert consent.phone == PHONE and consent.action == "grant" and consent.kind == "prior_express_written"
    assert consent.text_shown == FORM["consent"]["text"]  # type: ignore[index]
    assert consent.form_url == "https://lonestar.example/contact" and consent.ip_address == "203.0.113.7"
    assert consent.occurred_at == datetime(2025, 6, 10, 14, 59, tzinfo=UTC)
    assert consent.method == "web_form"


def test_forged_missing_and_stale_signatures_are_401_and_store_nothing(
    client: TestClient, container: Container, org: OrgFixture
) -> None:
    source = create_source(client, login(client, org), provider="generic", name="Form")
    body = to_bytes(FORM)
    forged = standard_headers("whsec_" + base64.b64encode(b"f" * 32).decode(), body)
    stale = standard_headers(source["secret"], body, at=datetime.now(UTC) - timedelta(minutes=6))
    tampered = standard_headers(source["secret"], body)
    for headers, sent in ((forged, body), ({"content-type": "application/json"}, body), (stale, body),
                          (tampered, body.replace(b"Dana", b"Eve"))):  # fmt: skip
        response = _post(client, path_of(source), sent, headers)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert _events(container) == []


def test_an_unknown_source_or_provider_is_404(client: TestClient, container: Container, org: OrgFixture) -> None:
    source = create_source(client, login(client, org), provider="generic", name="Form")
    body = to_bytes(FORM)
    headers = standard_headers(source["secret"], body)
    assert _post(client, f"/webhooks/generic/{uuid.uuid4()}", body, headers).status_code == 404
    assert _post(client, f"/webhooks/hubspot/{source['id']}", body, headers).status_code == 404
    assert _post(client, f"/webhooks/nope/{source['id']}", body, headers).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [({"phone": "not a phone"}, "body.phone"), ({"phone": None}, "body.phone"),
     ({"email": "nope"}, "body.email"), ({"consent": {"pageUrl": "https://x.example"}}, "body.consent.text")],
)  # fmt: skip
def test_a_bad_form_is_a_422_naming_the_field(
    client: TestClient, container: Container, org: OrgFixture, change: dict[str, Any], field: str
) -> None:
    source = create_source(client, login(client, org), provider="generic", name="Form")
    body = to_bytes({**FORM, **change})
    response = _post(client, path_of(source), body, standard_headers(source["secret"], body))
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert _events(container) == []


def test_a_form_for_a_known_phone_updates_that_lead(client: TestClient, container: Container, org: OrgFixture) -> None:
    with tenant_session(container.sessions, org.id) as session:
        session.add(Lead(phone=PHONE, first_name="", source="inbound_call"))
        session.commit()
    source = create_source(client, login(client, org), provider="generic", name="Form")
    body = to_bytes({k: v for k, v in FORM.items() if k != "consent"})
    assert _post(client, path_of(source), body, standard_headers(source["secret"], body)).status_code == 200
    run_jobs(container)
    [lead] = _leads(container)
    assert lead.source == "inbound_call" and lead.first_name == "Dana" and lead.email == "dana@example.com"


def test_a_hubspot_contact_creation_is_completed_through_the_adapter(
    client: TestClient, container: Container, org: OrgFixture, crm: respx.Router
) -> None:
    integration_id = make_integration(container, org, credentials={"access_token": "pat-na1-test"}, settings={})
    source = create_source(
        client, login(client, org), provider="hubspot", name="HubSpot", integrationId=str(integration_id),
        secret="hubspot-client-secret",
    )  # fmt: skip
    fetch = crm.get(f"{HUBSPOT_CONTACT}/901").mock(
        return_value=httpx.Response(
            200,
            json={"id": "901", "properties": {"firstname": "Ana", "lastname": "Lima", "email": "ana@example.com",
                                              "phone": "+1 212 555 0177"}},
        )
    )  # fmt: skip
    events = [
        {"eventId": 7001, "subscriptionId": 1, "portalId": 62515, "occurredAt": int(time.time() * 1000),
         "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 901, "changeSource": "CRM"},
        {"eventId": 7002, "subscriptionId": 2, "portalId": 62515, "occurredAt": int(time.time() * 1000),
         "subscriptionType": "deal.creation", "attemptNumber": 0, "objectId": 55, "changeSource": "CRM"},
    ]  # fmt: skip
    body = to_bytes(events)
    uri = f"https://seiketsu.test{path_of(source)}"
    response = _post(client, path_of(source), body, hubspot_headers("hubspot-client-secret", uri, body))
    assert response.status_code == 200 and response.json() == {"accepted": 2, "duplicates": 0}
    run_jobs(container)
    assert fetch.call_count == 1
    assert fetch.calls[0].request.headers["authorization"] == "Bearer pat-na1-test"
    [lead] = _leads(container)
    assert (lead.phone, lead.first_name, lead.last_name, lead.source) == ("+12125550177", "Ana", "Lima", "hubspot")
    statuses = sorted(e.status for e in _events(container))
    assert statuses == [InboundStatus.IGNORED, InboundStatus.PROCESSED]


def test_hubspot_stale_or_forged_requests_are_401(client: TestClient, container: Container, org: OrgFixture) -> None:
    integration_id = make_integration(container, org, credentials={"access_token": "pat-na1-test"}, settings={})
    source = create_source(
        client, login(client, org), provider="hubspot", name="HubSpot", secret="hubspot-secret",
        integrationId=str(integration_id),
    )  # fmt: skip
    body = to_bytes([{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 1}])
    uri = f"https://seiketsu.test{path_of(source)}"
    stale_ms = int((time.time() - 301) * 1000)
    for headers in (
        hubspot_headers("hubspot-secret", uri, body, at_ms=stale_ms),
        hubspot_headers("another-secret", uri, body),
        hubspot_headers("hubspot-secret", uri + "?x=1", body),
    ):
        assert _post(client, path_of(source), body, headers).status_code == 401
    assert _events(container) == []


def test_a_follow_up_boss_person_is_fetched_by_its_id(
    client: TestClient, container: Container, org: OrgFixture, crm: respx.Router
) -> None:
    integration_id = make_integration(
        container, org, crm_type="followupboss", credentials={"api_key": "fub-key", "system_key": "fub-system"},
        settings={},
    )  # fmt: skip
    source = create_source(
        client, login(client, org), provider="followupboss", name="FUB", integrationId=str(integration_id),
        secret="fub-system",
    )  # fmt: skip
    crm.get("https://api.followupboss.com/v1/people/123").mock(
        return_value=httpx.Response(
            200, json={"id": 123, "firstName": "Kim", "lastName": "Park", "name": "Kim Park",
                       "emails": [{"value": "kim@example.com"}], "phones": [{"value": "212-555-0188"}]},
        )
    )  # fmt: skip
    body = to_bytes({"eventId": "0197cba6-1", "eventCreated": "2025-07-02T15:19:21+00:00", "event": "peopleCreated",
                     "resourceIds": [123], "uri": "https://api.followupboss.com/v1/people?id=123"})  # fmt: skip
    assert _post(client, path_of(source), body, fub_headers("wrong", body)).status_code == 401
    assert _post(client, path_of(source), body, fub_headers("fub-system", body)).status_code == 200
    assert _post(client, path_of(source), body, fub_headers("fub-system", body)).json()["duplicates"] == 1
    run_jobs(container)
    [lead] = _leads(container)
    assert (lead.phone, lead.first_name, lead.last_name, lead.email) == (
        "+12125550188",
        "Kim",
        "Park",
        "kim@example.com",
    )


def test_a_pipedrive_person_comes_with_basic_auth(client: TestClient, container: Container, org: OrgFixture) -> None:
    source = create_source(
        client, login(client, org), provider="pipedrive", name="Pipedrive", username="pd-hook", secret="pd-pass"
    )
    body = to_bytes({
        "meta": {"action": "create", "entity": "person", "entity_id": "42", "id": "b6f1c0de-0001", "version": "2.0"},
        "data": {"id": 42, "name": "Lee Chan", "first_name": "Lee", "last_name": "Chan",
                 "phones": [{"value": "+12125550199", "primary": True, "label": "mobile"}],
                 "emails": [{"value": "lee@example.com", "primary": True}]},
        "previous": None,
    })  # fmt: skip

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"content-type": "application/json", "authorization": f"Basic {token}"}

    assert _post(client, path_of(source), body, basic("pd-hook", "wrong")).status_code == 401
    assert _post(client, path_of(source), body, {"content-type": "application/json"}).status_code == 401
    assert _post(client, path_of(source), body, basic("pd-hook", "pd-pass")).status_code == 200
    run_jobs(container)
    [lead] = _leads(container)
    assert (lead.phone, lead.first_name, lead.email, lead.source) == (
        "+12125550199",
        "Lee",
        "lee@example.com",
        "pipedrive",
    )


def test_zoho_echoes_its_channel_token_which_is_not_kept(
    client: TestClient, container: Container, org: OrgFixture
) -> None:
    integration_id = make_integration(
        container, org, credentials={"access_token": "zoho-access"}, settings={"data_centre": "us"}, crm_type="zoho"
    )
    source = create_source(
        client, login(client, org), provider="zoho", name="Zoho", secret="zoho-token", integrationId=str(integration_id)
    )
    with tenant_session(container.sessions, org.id) as session:  # the lead cannot be completed: see the end
        integration = session.get(Integration, integration_id)
        assert integration is not None
        integration.enabled = False
        session.commit()
    notification = {"server_time": 1717000000000, "module": "Leads", "resource_uri": "https://www.zohoapis.com/crm/v8/Leads",
                    "ids": ["5725767000000524157"], "affected_fields": [], "operation": "insert",
                    "channel_id": "1000000068001", "token": "zoho-token"}  # fmt: skip
    wrong = to_bytes({**notification, "token": "guess"})
    assert _post(client, path_of(source), wrong, {"content-type": "application/json"}).status_code == 401
    body = to_bytes(notification)
    assert _post(client, path_of(source), body, {"content-type": "application/json"}).json()["accepted"] == 1
    assert _post(client, path_of(source), body, {"content-type": "application/json"}).json()["duplicates"] == 1
    [event] = _events(container)
    assert "token" not in event.payload and event.payload["ids"] == ["5725767000000524157"]
    run_jobs(container)
    [event] = _events(container)
    assert event.status == InboundStatus.FAILED and "integration is missing or disabled" in (event.detail or "")


@pytest.mark.parametrize("provider", ["hubspot", "followupboss", "zoho"])
def test_a_source_of_thin_events_needs_an_integration(
    client: TestClient, container: Container, org: OrgFixture, provider: str
) -> None:
    body = {"provider": provider, "name": "CRM", "secret": "a-secret"}
    response = client.post("/api/v1/webhook-sources", headers=login(client, org), json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.integrationId"
