from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from seiketsu.auth.tokens import issue_access_token
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.tenancy.models import Role
from tests.conftest import TEST_SECRET
from tests.factories import PASSWORD, login, make_api_key, make_org, make_user, tokens


def test_login_issues_tokens_and_me_describes_the_caller(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert me["email"] == org.admin_email
    assert me["role"] == "org_admin"
    assert me["organizationId"] == str(org.id)
    assert "lead.manage" in me["permissions"] and "organization.create" not in me["permissions"]
    assert me["lastLoginAt"] is not None


def test_login_rejects_wrong_password_unknown_user_and_wrong_org(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    make_org(container, "other")
    attempts = [
        {"email": org.admin_email, "password": "wrong password!", "organizationSlug": "acme"},
        {"email": "nobody@acme.test", "password": PASSWORD, "organizationSlug": "acme"},
        {"email": org.admin_email, "password": PASSWORD, "organizationSlug": "other"},
    ]
    for body in attempts:
        response = client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "invalid email, password or organization"


def test_missing_invalid_and_expired_tokens_are_401(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    expired = issue_access_token(
        secret=TEST_SECRET,
        user_id=org.id,
        organization_id=org.id,
        role=Role.ORG_ADMIN,
        generation=0,
        now=utcnow() - timedelta(hours=1),
        ttl=timedelta(minutes=15),
    )
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "token expired"
    forged = issue_access_token(
        secret="another-secret-that-is-long-enough-000000",
        user_id=org.id,
        organization_id=org.id,
        role=Role.SUPER_ADMIN,
        generation=0,
        now=utcnow(),
        ttl=timedelta(minutes=15),
    )
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_family(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    first = tokens(client, org)
    second = client.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refreshToken"] != first["refreshToken"]
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['accessToken']}"}).status_code == 200
    )

    reuse = client.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert reuse.status_code == 401
    assert "reused" in reuse.json()["detail"]
    # The thief's reuse revoked the legitimate holder's newer token too.
    assert client.post("/api/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]}).status_code == 401


def test_logout_revokes_the_refresh_token(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    pair = tokens(client, org)
    other_session = tokens(client, org)
    headers = {"Authorization": f"Bearer {pair['accessToken']}"}
    assert (
        client.post("/api/v1/auth/logout", json={"refreshToken": pair["refreshToken"]}, headers=headers).status_code
        == 204
    )
    assert client.post("/api/v1/auth/refresh", json={"refreshToken": pair["refreshToken"]}).status_code == 401
    # Signing out of one session leaves the others alone.
    assert client.post("/api/v1/auth/refresh", json={"refreshToken": other_session["refreshToken"]}).status_code == 200


def test_profile_update_needs_current_password_for_sensitive_changes(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    response = client.put("/api/v1/auth/profile", json={"newPassword": "a brand new password"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.currentPassword"
    response = client.put(
        "/api/v1/auth/profile",
        json={"fullName": "Ada Admin", "currentPassword": PASSWORD, "newPassword": "a brand new password"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json()["fullName"] == "Ada Admin"
    login_body = {"email": org.admin_email, "password": "a brand new password", "organizationSlug": org.slug}
    assert client.post("/api/v1/auth/login", json=login_body).status_code == 200


def test_api_keys_are_shown_once_stored_hashed_and_revocable(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    created = client.post("/api/v1/api-keys", json={"name": "crm sync", "role": "manager"}, headers=headers)
    assert created.status_code == 201
    key = created.json()["key"]
    listed = client.get("/api/v1/api-keys", headers=headers).json()["items"]
    assert [item["name"] for item in listed] == ["crm sync"]
    assert all("key" not in item for item in listed)

    me = client.get("/api/v1/auth/me", headers={"X-API-Key": key})
    assert me.status_code == 200
    assert me.json()["role"] == "manager" and me.json()["apiKeyId"] == created.json()["id"]

    assert client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key[:-2] + "xx"}).status_code == 401


def test_an_agent_cannot_mint_a_stronger_api_key(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    manager_key = make_api_key(container, org, Role.MANAGER)
    response = client.post(
        "/api/v1/api-keys", json={"name": "x", "role": "org_admin"}, headers={"X-API-Key": manager_key}
    )
    assert response.status_code == 403


def test_deactivated_user_loses_access_at_once(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    agent_email = make_user(container, org, Role.AGENT)
    agent_headers = login(client, org, agent_email)
    admin_headers = login(client, org)
    users = client.get(f"/api/v1/organizations/{org.id}/users", headers=admin_headers).json()["items"]
    agent_id = next(u["id"] for u in users if u["email"] == agent_email)
    assert client.delete(f"/api/v1/organizations/{org.id}/users/{agent_id}", headers=admin_headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=agent_headers).status_code == 401
