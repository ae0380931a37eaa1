"""Outbound events: registered endpoints receive signed deliveries, retried with backoff, logged, re-sendable; a
slow or failing receiver holds up nobody else; persistent failure disables the endpoint."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col
from standardwebhooks.webhooks import Webhook

from seiketsu.container import Container
from seiketsu.tenancy.scoping import system_session, tenant_session
from tests.addresses import FakeResolver
from tests.factories import OrgFixture, login, make_org
from tests.telephony.outbound_support import run_jobs
from tests.webhooks.support import Received, receiver, runtime_of
from webhooks.models import WebhookEndpoint

CALL = {"callId": str(uuid.uuid4()), "outcome": "qualified", "durationSeconds": 93, "toNumber": "+12125550142"}


def _endpoint(client: TestClient, headers: dict[str, str], url: str, events: list[str]) -> dict[str, Any]:
    response = client.post("/api/v1/webhook-endpoints", headers=headers, json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _publish(container: Container, org: OrgFixture, event: str, payload: dict[str, Any]) -> None:
    with tenant_session(container.sessions, org.id) as session:
        container.events.publish(session, event, payload)
        session.commit()


def _verified(received: Received, secret: str) -> Any:
    return Webhook(secret).verify(received.body, received.headers)


def _deliveries(client: TestClient, headers: dict[str, str], endpoint_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_subscribed_endpoint_receives_a_signed_event_and_the_delivery_is_logged(
    client: TestClient, container: Container, local_targets: None
) -> None:
    org = make_org(container, "keys")
    headers = login(client, org)
    with receiver() as (fake, url):
        created = _endpoint(client, headers, f"{url}/hooks", ["call.completed"])
        _endpoint(client, headers, f"{url}/leads-only", ["lead.created"])
        _publish(container, org, "call.completed", CALL)
        run_jobs(container)
    [received] = fake.received
    assert received.path == "/hooks"
    body = _verified(received, created["secret"])
    assert body["type"] == "call.completed" and body["data"] == CALL and body["timestamp"]
    assert received.headers["webhook-id"].startswith("msg_")
    [delivery] = _deliveries(client, headers, created["id"])
    assert delivery["status"] == "succeeded" and delivery["lastStatusCode"] == 204
    assert delivery["messageId"] == received.headers["webhook-id"]
    detail = client.get(f"/api/v1/webhook-endpoints/{created['id']}/deliveries/{delivery['id']}", headers=headers)
    [attempt] = detail.json()["log"]
    assert attempt["statusCode"] == 204 and attempt["durationMs"] >= 0 and attempt["error"] is None


def test_the_secret_is_shown_once_and_sealed_at_rest(
    client: TestClient, container: Container, local_targets: None
) -> None:
    org = make_org(container, "sealed")
    headers = login(client, org)
    created = _endpoint(client, headers, "http://127.0.0.1:9/x", ["lead.created"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    listed = client.get("/api/v1/webhook-endpoints", headers=headers).text
    one = client.get(f"/api/v1/webhook-endpoints/{created['id']}", headers=headers).text
    assert secret not in listed and secret not in one and "secret" not in one
    with system_session(container.sessions) as session:
        stored = session.scalars(sa.select(col(WebhookEndpoint.secrets))).one()
    assert secret not in stored and secret[6:] not in stored


def test_a_failing_receiver_is_retried_then_disabled_and_never_blocks_the_others(
    client: TestClient, container: Container, local_targets: None
) -> None:
    org = make_org(container, "flaky")
    headers = login(client, org)
    with receiver() as (fake, url):
        fake.status["/broken"] = 500
        broken = _endpoint(client, headers, f"{url}/broken", ["sms.received"])
        healthy = _endpoint(client, headers, f"{url}/healthy", ["sms.received"])
        _publish(container, org, "sms.received", {"messageId": "m1", "body": "call me"})
        run_jobs(container)
        attempts = len(runtime_of(container).retry_schedule) + 1
        assert len(fake.at("/broken")) == attempts
        assert len(fake.at("/healthy")) == 1
        ids = {r.headers["webhook-id"] for r in fake.at("/broken")}
        assert len(ids) == 1, "every attempt of one delivery carries the same webhook-id"
    [failed] = _deliveries(client, headers, broken["id"])
    assert failed["status"] == "failed" and failed["attempts"] == attempts and failed["lastStatusCode"] == 500
    detail = client.get(f"/api/v1/webhook-endpoints/{broken['id']}/deliveries/{failed['id']}", headers=headers).json()
    assert [a["statusCode"] for a in detail["log"]] == [500] * attempts
    assert [a["attempt"] for a in detail["log"]] == list(range(1, attempts + 1))
    endpoint = client.get(f"/api/v1/webhook-endpoints/{broken['id']}", headers=headers).json()
    assert endpoint["enabled"] is False and "failed" in endpoint["disabledReason"]
    assert client.get(f"/api/v1/webhook-endpoints/{healthy['id']}", headers=headers).json()["enabled"] is True


def test_a_slow_receiver_times_out_without_holding_up_the_others(
    client: TestClient, container: Container, local_targets: None
) -> None:
    import httpx

    runtime_of(container).timeout = httpx.Timeout(0.5)
    org = make_org(container, "slow")
    headers = login(client, org)
    with receiver() as (fake, url):
        fake.delay["/slow"] = 3.0
        slow = _endpoint(client, headers, f"{url}/slow", ["lead.created"])
        _endpoint(client, headers, f"{url}/fast", ["lead.created"])
        _publish(container, org, "lead.created", {"leadId": "l1"})
        run_jobs(container)
        assert len(fake.at("/fast")) == 1
    [delivery] = _deliveries(client, headers, slow["id"])
    detail = client.get(f"/api/v1/webhook-endpoints/{slow['id']}/deliveries/{delivery['id']}", headers=headers).json()
    assert all(a["error"] == "timed out" and a["statusCode"] is None for a in detail["log"])
    assert all(a["durationMs"] < 2000 for a in detail["log"])


def test_a_failed_delivery_can_be_resent_by_hand(client: TestClient, container: Container, local_targets: None) -> None:
    org = make_org(container, "resend")
    headers = login(client, org)
    with receiver() as (fake, url):
        fake.status["/in"] = 503
        endpoint = _endpoint(client, headers, f"{url}/in", ["appointment.booked"])
        _publish(container, org, "appointment.booked", {"appointmentId": "a1"})
        run_jobs(container)
        [delivery] = _deliveries(client, headers, endpoint["id"])
        path = f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/resend"
        assert client.post(path, headers=headers).status_code == 409, "a disabled endpoint is enabled first"
        enabled = client.patch(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=headers, json={"enabled": True})
        assert enabled.status_code == 200 and enabled.json()["disabledReason"] is None
        fake.status["/in"] = 200
        response = client.post(path, headers=headers)
        assert response.status_code == 202 and response.json()["status"] == "pending"
        run_jobs(container)
        last = fake.at("/in")[-1]
    assert _verified(last, endpoint["secret"])["data"] == {"appointmentId": "a1"}
    assert last.headers["webhook-id"] == delivery["messageId"]
    [after] = _deliveries(client, headers, endpoint["id"])
    assert after["status"] == "succeeded" and after["lastStatusCode"] == 200


def test_a_rotated_secret_and_its_predecessor_both_sign_during_the_grace_period(
    client: TestClient, container: Container, local_targets: None
) -> None:
    org = make_org(container, "rotate")
    headers = login(client, org)
    with receiver() as (fake, url):
        endpoint = _endpoint(client, headers, f"{url}/in", ["lead.qualified"])
        rotated = client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=headers)
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret != endpoint["secret"]
        _publish(container, org, "lead.qualified", {"leadId": "l2"})
        run_jobs(container)
    [received] = fake.received
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    assert _verified(received, new_secret)["data"] == {"leadId": "l2"}
    assert _verified(received, endpoint["secret"])["data"] == {"leadId": "l2"}


def test_a_name_that_resolves_inside_our_network_at_send_time_is_refused(
    client: TestClient, container: Container, resolver: FakeResolver
) -> None:
    org = make_org(container, "rebind")
    headers = login(client, org)
    endpoint = _endpoint(client, headers, "https://hooks.brokerage.example/in", ["compliance.blocked"])
    resolver.table["hooks.brokerage.example"] = ["127.0.0.1"]
    _publish(container, org, "compliance.blocked", {"leadId": "l3"})
    run_jobs(container)
    [delivery] = _deliveries(client, headers, endpoint["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    assert delivery["lastStatusCode"] is None and "target refused" in delivery["lastError"]


def test_a_lead_created_through_the_api_is_delivered_as_lead_created(
    client: TestClient, container: Container, local_targets: None
) -> None:
    org = make_org(container, "api-leads")
    headers = login(client, org)
    with receiver() as (fake, url):
        endpoint = _endpoint(client, headers, f"{url}/leads", ["lead.created"])
        created = client.post("/api/v1/leads", headers=headers, json={"phone": "+12125550166", "firstName": "Ro"})
        assert created.status_code == 201
        run_jobs(container)
    [received] = fake.received
    data = _verified(received, endpoint["secret"])["data"]
    assert data["leadId"] == created.json()["id"] and data["phone"] == "+12125550166" and data["firstName"] == "Ro"
