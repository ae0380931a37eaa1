"""A password someone else chose (the one-time admin password, an admin-set one) must be replaced at first sign-in."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seiketsu.container import Container
from seiketsu.tenancy.scoping import system_session
from seiketsu.tenancy.service import create_organization
from tests.factories import PASSWORD, login, make_org

PROBLEM = "urn:seiketsu:problem:password-change-required"


def _sign_in(client: TestClient, slug: str, email: str, password: str) -> dict[str, object]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password, "organizationSlug": slug})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_the_one_time_password_reaches_only_the_profile_until_replaced(
    client: TestClient, container: Container
) -> None:
    with system_session(container.sessions) as session:
        created = create_organization(session, container.passwords, name="Acme", slug="acme", admin_email="a@acme.test")
        session.commit()
        one_time = created.admin_password
    tokens = _sign_in(client, "acme", "a@acme.test", one_time)
    assert tokens["passwordChangeRequired"] is True
    headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
    refused = client.get("/api/v1/leads", headers=headers)
    assert refused.status_code == 403 and refused.json()["type"] == PROBLEM
    assert "PUT /api/v1/auth/profile" in refused.json()["detail"]
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200

    changed = client.put(
        "/api/v1/auth/profile",
        json={"currentPassword": one_time, "newPassword": "my own long passphrase"},
        headers=headers,
    )
    assert changed.status_code == 200
    tokens = _sign_in(client, "acme", "a@acme.test", "my own long passphrase")
    assert tokens["passwordChangeRequired"] is False
    assert client.get("/api/v1/leads", headers={"Authorization": f"Bearer {tokens['accessToken']}"}).status_code == 200


def test_a_password_an_admin_sets_must_be_replaced_too(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    admin = login(client, org)
    body = {"email": "agent@acme.example.com", "password": "set by the admin", "role": "agent"}
    created = client.post(f"/api/v1/organizations/{org.id}/users", json=body, headers=admin)
    assert created.status_code == 201
    tokens = _sign_in(client, "acme", "agent@acme.example.com", "set by the admin")
    assert tokens["passwordChangeRequired"] is True
    agent = {"Authorization": f"Bearer {tokens['accessToken']}"}
    assert client.get("/api/v1/leads", headers=agent).json()["type"] == PROBLEM

    user_id = created.json()["id"]
    reset = client.put(
        f"/api/v1/organizations/{org.id}/users/{user_id}", json={"password": "reset by the admin"}, headers=admin
    )
    assert reset.status_code == 200
    assert _sign_in(client, "acme", "agent@acme.example.com", "reset by the admin")["passwordChangeRequired"] is True
    # the admin's own password, set by themselves, is not affected
    assert _sign_in(client, "acme", org.admin_email, PASSWORD)["passwordChangeRequired"] is False
