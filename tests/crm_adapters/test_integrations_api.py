"""/api/v1/integrations: write-only sealed credentials, validation naming fields, tests, deliveries, re-drive."""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from crm_adapters.fake_server import FakeHubSpot
from crm_adapters.models import Integration
from crm_adapters.runtime import EXTRAS_KEY, crm_runtime
from crm_adapters.service import open_credentials, rotate_credentials
from seiketsu.container import Container
from seiketsu.crypto import SecretBox
from seiketsu.tenancy.scoping import tenant_session
from tests.conftest import TEST_SECRET
from tests.factories import OrgFixture, login, make_org

from .delivery_support import (
    UNIQUE_PROPERTIES,
    asgi_client,
    completed_event,
    make_leads,
    publish,
    run_jobs,
    use_http,
)

TOKEN = "pat-na1-0f9e8d7c-secret-token"
NEW_TOKEN = "pat-na1-replacement-secret"


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot(access_token=TOKEN, unique_properties=UNIQUE_PROPERTIES)


@pytest.fixture
def api(client: TestClient, container: Container, fake: FakeHubSpot) -> tuple[TestClient, OrgFixture, dict[str, str]]:
    use_http(container, asgi_client(fake.app))  # create_app wired the package; point its clients at the fake
    org = make_org(container, "acme")
    return client, org, login(client, org)


def hubspot(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "crmType": "hubspot",
        "name": "Main HubSpot",
        "credentials": {"access_token": TOKEN},
        "settings": {"owner_id": "67890"},
        "fieldMapping": {"budget": "ai_budget"},
    }
    body.update(changes)
    return body


def test_created_credentials_are_never_returned_only_their_names(api):
    client, _, headers = api
    created = client.post("/api/v1/integrations", json=hubspot(), headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["crmType"] == "hubspot" and body["name"] == "Main HubSpot" and body["enabled"] is True
    assert body["hasCredentials"] is True and body["credentialKeys"] == ["access_token"]
    assert body["fieldMapping"] == {"budget": "ai_budget"} and body["settings"] == {"owner_id": "67890"}
    assert body["rateLimit"] == {"requests": 100, "windowSeconds": 10.0, "isDefault": True}
    assert "credentials" not in body
    listed = client.get("/api/v1/integrations", headers=headers)
    one = client.get(f"/api/v1/integrations/{body['id']}", headers=headers)
    for response in (created, listed, one):
        assert TOKEN not in response.text
    assert listed.json()["items"][0]["id"] == body["id"] and one.json() == body


def test_credentials_are_encrypted_in_the_database(api, container):
    client, org, headers = api
    integration_id = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()["id"]
    with container.engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT * FROM crm_integrations")).mappings().one()
    row_text = " ".join(str(value) for value in raw.values())
    assert TOKEN not in row_text and "pat-na1" not in row_text
    assert str(raw["id"]) == integration_id
    assert open_credentials(SecretBox(TEST_SECRET), raw["credentials"]) == {"access_token": TOKEN}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"credentials": {"api_key": "k-123"}}, "body.credentials",
         "missing credentials: access_token, or refresh_token with client_id and client_secret"),
        ({"settings": {"colour": "blue"}}, "body.settings", "unknown settings colour; known: base_url, owner_id"),
        ({"fieldMapping": {"shoe_size": "x"}}, "body.fieldMapping", "cannot map fields shoe_size"),
        ({"outcomeMapping": {"maybe": "x"}}, "body.outcomeMapping", "cannot map outcomes maybe"),
        ({"crmType": "dynamics"}, "body.crmType", "Input should be"),
        ({"credentials": {}}, "body.credentials", "at least 1 item"),
        ({"credentials": {"access_token": ""}}, "body.credentials.access_token", "at least 1"),
        ({"rateLimit": {"requests": 0, "windowSeconds": 10}}, "body.rateLimit.requests", "greater than or equal"),
        ({"password": "x"}, "body.password", "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_an_invalid_configuration_is_refused_naming_the_field(api, changes, field, message):
    client, _, headers = api
    response = client.post("/api/v1/integrations", json=hubspot(**changes), headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = [e for e in response.json()["errors"] if e["field"] == field]
    assert message in error["message"]
    assert "k-123" not in response.text and TOKEN not in response.text


def test_every_crm_type_is_checked_by_its_own_adapter(api):
    client, _, headers = api
    cases = {
        "salesforce": ({"access_token": "t", "instance_url": "https://acme.my.salesforce.com"}, {}),
        "zoho": ({"access_token": "t"}, {"data_centre": "EU"}),
        "pipedrive": ({"api_token": "t"}, {"company_domain": "acme"}),
        "followupboss": ({"api_key": "t", "system_key": "sk"}, {"system": "Seiketsu"}),
    }
    for crm_type, (credentials, settings) in cases.items():
        missing = client.post(
            "/api/v1/integrations",
            json={"crmType": crm_type, "name": f"{crm_type} bad", "credentials": {"nothing": "x"}},
            headers=headers,
        )
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.credentials", missing.text
        wrong_setting = client.post(
            "/api/v1/integrations",
            json={"crmType": crm_type, "name": crm_type, "credentials": credentials, "settings": {"region": "x"}},
            headers=headers,
        )
        assert wrong_setting.json()["errors"][0]["field"] == "body.settings", wrong_setting.text
        good = client.post(
            "/api/v1/integrations",
            json={"crmType": crm_type, "name": crm_type, "credentials": credentials, "settings": settings},
            headers=headers,
        )
        assert good.status_code == 201, (crm_type, good.text)
        assert good.json()["credentialKeys"] == sorted(credentials)


def test_update_replaces_what_is_given_and_checks_it_against_the_stored_credentials(api, container):
    client, org, headers = api
    first = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()
    client.post("/api/v1/integrations", json=hubspot(name="Second"), headers=headers)
    url = f"/api/v1/integrations/{first['id']}"

    updated = client.put(url, json={"enabled": False, "rateLimit": {"requests": 190, "windowSeconds": 10}},
                         headers=headers)  # fmt: skip
    assert updated.status_code == 200, updated.text
    assert updated.json()["enabled"] is False and updated.json()["rateLimit"]["requests"] == 190
    assert updated.json()["credentialKeys"] == ["access_token"]

    bad = client.put(url, json={"settings": {"colour": "blue"}}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.settings"
    assert client.put(url, json={"name": "Second"}, headers=headers).status_code == 409

    oauth = {"refresh_token": "r", "client_id": "c", "client_secret": "s"}
    replaced = client.put(url, json={"credentials": oauth, "rateLimit": None}, headers=headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["credentialKeys"] == ["client_id", "client_secret", "refresh_token"]
    assert replaced.json()["rateLimit"] == {"requests": 100, "windowSeconds": 10.0, "isDefault": True}
    with tenant_session(container.sessions, org.id) as session:
        stored = session.get(Integration, first["id"])
        assert stored is not None
        assert open_credentials(crm_runtime(container).secret_box, stored.credentials) == oauth


def test_delete_removes_the_integration_and_its_deliveries(api, container, fake):
    client, org, headers = api
    integration_id = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()["id"]
    [lead] = make_leads(container, org, 1)
    publish(container, org, [completed_event(lead)])
    run_jobs(container)
    assert len(client.get(f"/api/v1/integrations/{integration_id}/deliveries", headers=headers).json()["items"]) == 1
    assert client.delete(f"/api/v1/integrations/{integration_id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/integrations/{integration_id}", headers=headers).status_code == 404
    with container.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM crm_deliveries")).scalar() == 0
        assert connection.execute(sa.text("SELECT count(*) FROM crm_remote_records")).scalar() == 0


def test_the_connection_test_reports_ok_or_the_class_of_failure_never_the_answer(api):
    client, _, headers = api
    good = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()
    bad = client.post("/api/v1/integrations", json=hubspot(name="Bad", credentials={"access_token": "revoked"}),
                      headers=headers).json()  # fmt: skip
    assert client.post(f"/api/v1/integrations/{good['id']}/test", headers=headers).json() == {
        "ok": True, "error": None, "message": None, "vendorStatus": None, "retryable": None
    }  # fmt: skip
    refused = client.post(f"/api/v1/integrations/{bad['id']}/test", headers=headers)
    assert refused.json() == {
        "ok": False,
        "error": "credentials_rejected",
        "message": "the CRM rejected the credentials",
        "vendorStatus": 401,
        "retryable": False,
    }
    # the fake's answer: {"category": "INVALID_AUTHENTICATION", "message": "Authentication credentials not found."}
    assert "INVALID_AUTHENTICATION" not in refused.text and "not found" not in refused.text


def test_a_dead_delivery_shows_the_vendors_message_and_is_redriven_after_the_fix(api, container, fake):
    client, org, headers = api
    created = client.post("/api/v1/integrations", json=hubspot(credentials={"access_token": "revoked"}),
                          headers=headers).json()  # fmt: skip
    deliveries_url = f"/api/v1/integrations/{created['id']}/deliveries"
    leads = make_leads(container, org, 3)
    publish(container, org, [completed_event(lead) for lead in leads])
    run_jobs(container)

    page = client.get(f"{deliveries_url}?limit=2", headers=headers).json()
    assert len(page["items"]) == 2 and page["nextCursor"]
    rest = client.get(f"{deliveries_url}?limit=2&cursor={page['nextCursor']}", headers=headers).json()
    assert len(rest["items"]) == 1 and rest["nextCursor"] is None
    dead = page["items"][0]
    assert dead["status"] == "dead" and dead["vendorStatus"] == 401 and dead["vendorCode"] == "INVALID_AUTHENTICATION"
    assert dead["lastError"] == "hubspot: Authentication credentials not found. | HTTP 401 | INVALID_AUTHENTICATION"
    [attempt] = dead["attempts"]
    assert attempt["step"] == "contact" and attempt["succeeded"] is False and attempt["httpStatus"] == 401
    assert client.get(f"{deliveries_url}?status=succeeded", headers=headers).json()["items"] == []

    fixed = client.put(f"/api/v1/integrations/{created['id']}", json={"credentials": {"access_token": TOKEN}},
                       headers=headers)  # fmt: skip
    assert fixed.status_code == 200
    redriven = client.post(f"{deliveries_url}/{dead['id']}/redrive", headers=headers)
    assert redriven.status_code == 200, redriven.text
    assert redriven.json()["status"] == "pending" and redriven.json()["lastError"] is None
    run_jobs(container)

    done = client.get(f"{deliveries_url}?status=succeeded", headers=headers).json()["items"]
    assert [d["id"] for d in done] == [dead["id"]]
    [contact] = fake.objects["contacts"].values()
    [call] = fake.objects["calls"].values()
    [task] = fake.objects["tasks"].values()
    assert done[0]["remoteIds"] == {"contact": contact.id, "call": call.id, "task": task.id}
    assert [a["attempt"] for a in done[0]["attempts"]] == [1, 2, 2, 2]
    again = client.post(f"{deliveries_url}/{dead['id']}/redrive", headers=headers)
    assert again.status_code == 409 and "only dead deliveries" in again.json()["detail"]


def test_secrets_never_reach_the_logs(api, container, caplog):
    client, org, headers = api
    caplog.set_level(logging.DEBUG)
    created = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()
    client.post(f"/api/v1/integrations/{created['id']}/test", headers=headers)
    [lead] = make_leads(container, org, 1)
    publish(container, org, [completed_event(lead)])
    run_jobs(container)
    client.put(f"/api/v1/integrations/{created['id']}", json={"credentials": {"access_token": NEW_TOKEN}},
               headers=headers)  # fmt: skip
    client.post(f"/api/v1/integrations/{created['id']}/test", headers=headers)
    assert "delivered call" in caplog.text  # the flow did log
    assert TOKEN not in caplog.text and NEW_TOKEN not in caplog.text


def test_a_rotated_secret_key_still_opens_old_credentials_until_they_are_rotated(api, container):
    client, org, headers = api
    integration_id = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()["id"]
    new_secret = "a-brand-new-secret-key-for-this-install-0123"
    rotated = SecretBox(new_secret, previous=(TEST_SECRET,))  # SECRET_KEY=new, SECRET_KEY_PREVIOUS=old
    container.extras[EXTRAS_KEY] = replace(crm_runtime(container), secret_box=rotated)
    assert client.post(f"/api/v1/integrations/{integration_id}/test", headers=headers).json()["ok"] is True

    with tenant_session(container.sessions, org.id) as session:
        assert rotate_credentials(session, rotated) == 1
        session.commit()
        assert rotate_credentials(session, rotated) == 0  # already current
    container.extras[EXTRAS_KEY] = replace(crm_runtime(container), secret_box=SecretBox(new_secret))  # old key gone
    assert client.post(f"/api/v1/integrations/{integration_id}/test", headers=headers).json()["ok"] is True

    container.extras[EXTRAS_KEY] = replace(crm_runtime(container), secret_box=SecretBox("x" * 40))  # a lost key
    lost = client.post(f"/api/v1/integrations/{integration_id}/test", headers=headers).json()
    assert lost["ok"] is False and "cannot be decrypted" in lost["message"]
    refused = client.put(f"/api/v1/integrations/{integration_id}", json={"settings": {}}, headers=headers)
    assert refused.status_code == 409 and "send them again" in refused.json()["detail"]
    resent = client.put(f"/api/v1/integrations/{integration_id}", json={"credentials": {"access_token": TOKEN}},
                        headers=headers)  # fmt: skip
    assert resent.status_code == 200
    assert client.post(f"/api/v1/integrations/{integration_id}/test", headers=headers).json()["ok"] is True


def test_permissions_follow_the_integration_permissions(api, container):
    from seiketsu.tenancy.models import Role
    from tests.factories import make_user

    client, org, headers = api
    created = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()
    manager = login(client, org, make_user(container, org, Role.MANAGER))
    assert client.get("/api/v1/integrations", headers=manager).status_code == 200
    assert client.get(f"/api/v1/integrations/{created['id']}/deliveries", headers=manager).status_code == 200
    for method, path in (
        ("POST", "/api/v1/integrations"),
        ("PUT", f"/api/v1/integrations/{created['id']}"),
        ("POST", f"/api/v1/integrations/{created['id']}/test"),
        ("DELETE", f"/api/v1/integrations/{created['id']}"),
    ):
        assert client.request(method, path, headers=manager, json=hubspot()).status_code == 403
    agent = login(client, org, make_user(container, org, Role.AGENT))
    assert client.get("/api/v1/integrations", headers=agent).status_code == 403


def test_an_org_admin_cannot_send_the_stored_credentials_to_another_host(api, container):
    client, _, headers = api
    created = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()
    url = f"/api/v1/integrations/{created['id']}"
    attacker = {"base_url": "https://listener.attacker.example", "owner_id": "67890"}
    for body in ({"settings": attacker}, {"settings": attacker, "credentials": {"access_token": TOKEN}}):
        moved = client.put(url, json=body, headers=headers)
        assert moved.status_code == 422, moved.text
        assert [e["field"] for e in moved.json()["errors"]] == ["body.settings.base_url"]
    refused = client.post("/api/v1/integrations", json=hubspot(name="Other", settings=attacker), headers=headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.settings.base_url"
    assert client.get(url, headers=headers).json()["settings"] == {"owner_id": "67890"}
    assert client.post(f"{url}/test", headers=headers).json()["ok"] is True


def test_moving_where_the_credentials_go_needs_the_credentials_again(api):
    client, _, headers = api
    credentials = {"access_token": "sf-token", "instance_url": "https://acme.my.salesforce.com"}
    created = client.post("/api/v1/integrations", headers=headers, json={
        "crmType": "salesforce", "name": "SF", "credentials": credentials, "settings": {"owner_id": "005A"}
    }).json()  # fmt: skip
    url = f"/api/v1/integrations/{created['id']}"
    sandbox = {"owner_id": "005A", "login_url": "https://test.salesforce.com"}
    moved = client.put(url, json={"settings": sandbox}, headers=headers)
    assert moved.status_code == 422, moved.text
    [error] = moved.json()["errors"]
    assert error["field"] == "body.settings.login_url" and "send the credentials" in error["message"]
    assert client.put(url, json={"settings": {"owner_id": "005B"}}, headers=headers).status_code == 200
    resent = client.put(url, json={"settings": sandbox, "credentials": credentials}, headers=headers)
    assert resent.status_code == 200 and resent.json()["settings"] == sandbox


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [(400, "refused", False), (403, "credentials_rejected", False), (404, "refused", False),
     (429, "unavailable", True), (500, "unavailable", True)],
)  # fmt: skip
def test_the_connection_test_never_echoes_what_the_remote_end_answered(api, container, status, error, retryable):
    client, _, headers = api
    leak = {"status": "error", "message": "aws-secret-AKIA1234", "category": "INTERNAL-ROLE", "correlationId": "c-1"}
    use_http(
        container, lambda: httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(status, json=leak)))
    )
    created = client.post("/api/v1/integrations", json=hubspot(), headers=headers).json()
    answer = client.post(f"/api/v1/integrations/{created['id']}/test", headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["ok"], body["error"], body["vendorStatus"], body["retryable"]) == (False, error, status, retryable)
    assert "AKIA" not in answer.text and "INTERNAL-ROLE" not in answer.text and "c-1" not in answer.text
