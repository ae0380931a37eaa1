from __future__ import annotations

from fastapi.testclient import TestClient

from seiketsu.container import Container
from seiketsu.tenancy.models import Role
from tests.factories import login, make_org, make_user


def test_super_admin_manages_organizations(client: TestClient, container: Container) -> None:
    platform = make_org(container, "platform")
    customer = make_org(container, "customer")
    root = make_user(container, platform, Role.SUPER_ADMIN)
    headers = login(client, platform, root)
    assert {o["slug"] for o in client.get("/api/v1/organizations", headers=headers).json()["items"]} == {
        "platform",
        "customer",
    }
    created = client.post(
        "/api/v1/organizations",
        json={"name": "New Brokerage", "slug": "new-brokerage", "timezone": "America/Chicago"},
        headers=headers,
    )
    assert created.status_code == 201 and created.json()["maxConcurrentCalls"] == 10
    duplicate = client.post("/api/v1/organizations", json={"name": "x", "slug": "new-brokerage"}, headers=headers)
    assert duplicate.status_code == 409
    bad = client.post(
        "/api/v1/organizations", json={"name": "x", "slug": "Bad Slug", "timezone": "Mars/Base"}, headers=headers
    )
    assert {e["field"] for e in bad.json()["errors"]} == {"body.slug", "body.timezone"}
    # A super admin reaches into a customer's users; an org admin cannot.
    assert client.get(f"/api/v1/organizations/{customer.id}/users", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/organizations/{customer.id}", headers=headers).status_code == 204
    login_body = {"email": customer.admin_email, "password": "x" * 12, "organizationSlug": "customer"}
    assert client.post("/api/v1/auth/login", json=login_body).status_code == 401


def test_org_admin_manages_own_org_and_users(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    assert [o["slug"] for o in client.get("/api/v1/organizations", headers=headers).json()["items"]] == ["acme"]
    updated = client.put(f"/api/v1/organizations/{org.id}", json={"name": "Acme Homes"}, headers=headers)
    assert updated.status_code == 200 and updated.json()["name"] == "Acme Homes"
    # Plan limits are the operator's (``seiketsu org limits``): a tenant cannot raise its own.
    for limit in ("maxConcurrentCalls", "apiRequestsPerMinute"):
        raised = client.put(f"/api/v1/organizations/{org.id}", json={limit: 1_000_000}, headers=headers)
        assert raised.status_code == 422 and raised.json()["errors"][0]["field"] == f"body.{limit}"
    assert client.get(f"/api/v1/organizations/{org.id}", headers=headers).json()["apiRequestsPerMinute"] == 600
    assert client.put(f"/api/v1/organizations/{org.id}", json={"isActive": False}, headers=headers).status_code == 403

    new_user = {"email": "Agent@Acme.example.com", "password": "long enough password", "role": "agent"}
    created = client.post(f"/api/v1/organizations/{org.id}/users", json=new_user, headers=headers)
    assert created.status_code == 201 and created.json()["email"] == "agent@acme.example.com"
    assert client.post(f"/api/v1/organizations/{org.id}/users", json=new_user, headers=headers).status_code == 409
    escalate = dict(new_user, email="boss@acme.example.com", role="super_admin")
    assert client.post(f"/api/v1/organizations/{org.id}/users", json=escalate, headers=headers).status_code == 403
    user_id = created.json()["id"]
    promoted = client.put(f"/api/v1/organizations/{org.id}/users/{user_id}", json={"role": "manager"}, headers=headers)
    assert promoted.json()["role"] == "manager"


def test_phone_numbers_are_validated_and_unique_across_organizations(client: TestClient, container: Container) -> None:
    headers = login(client, make_org(container, "acme"))
    other = login(client, make_org(container, "other"))
    created = client.post(
        "/api/v1/phone-numbers", json={"number": "(512) 555-0100", "purpose": "inbound"}, headers=headers
    )
    assert created.status_code == 201 and created.json()["e164"] == "+15125550100"
    assert client.post("/api/v1/phone-numbers", json={"number": "+15125550100"}, headers=other).status_code == 409
    invalid = client.post("/api/v1/phone-numbers", json={"number": "555"}, headers=headers)
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "body.number"
    assert [n["e164"] for n in client.get("/api/v1/phone-numbers", headers=other).json()["items"]] == []


def test_every_list_is_a_page_with_a_cursor(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    for number in ("+15125550101", "+15125550102", "+15125550103"):
        assert client.post("/api/v1/phone-numbers", json={"number": number}, headers=headers).status_code == 201
    first = client.get("/api/v1/phone-numbers?limit=2", headers=headers).json()
    assert [n["e164"] for n in first["items"]] == ["+15125550101", "+15125550102"] and first["nextCursor"]
    rest = client.get(f"/api/v1/phone-numbers?limit=2&cursor={first['nextCursor']}", headers=headers).json()
    assert [n["e164"] for n in rest["items"]] == ["+15125550103"] and rest["nextCursor"] is None
    for path in (
        "/api/v1/organizations",
        f"/api/v1/organizations/{org.id}/users",
        "/api/v1/api-keys",
        "/api/v1/webhook-sources",
        "/api/v1/dnc/registries",
    ):
        body = client.get(path, headers=headers).json()
        assert set(body) == {"items", "nextCursor"}, path
