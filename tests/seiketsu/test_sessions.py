"""Ending sessions: a password change, an admin's reset or a deactivation leaves no token of the user working."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from seiketsu.auth.models import RefreshToken
from seiketsu.container import Container
from seiketsu.tenancy.models import Role
from seiketsu.tenancy.scoping import system_session
from tests.factories import PASSWORD, OrgFixture, login, make_org, make_user, tokens

NEW_PASSWORD = "a brand new password"


def _bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['accessToken']}"}


def _refresh(client: TestClient, pair: dict[str, str]) -> int:
    return client.post("/api/v1/auth/refresh", json={"refreshToken": pair["refreshToken"]}).status_code


def _user_id(client: TestClient, org: OrgFixture, email: str, headers: dict[str, str]) -> str:
    users = client.get(f"/api/v1/organizations/{org.id}/users", headers=headers).json()["items"]
    return str(next(u["id"] for u in users if u["email"] == email))


def test_a_password_change_ends_every_session_of_that_user(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    laptop, phone = tokens(client, org), tokens(client, org)
    colleague = tokens(client, org, make_user(container, org, Role.MANAGER))
    changed = client.put(
        "/api/v1/auth/profile",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=_bearer(laptop),
    )
    assert changed.status_code == 200
    for session in (laptop, phone):
        assert _refresh(client, session) == 401
        assert client.get("/api/v1/auth/me", headers=_bearer(session)).status_code == 401
    # Another user's sessions are theirs; the new password signs in.
    assert client.get("/api/v1/auth/me", headers=_bearer(colleague)).status_code == 200
    assert _refresh(client, colleague) == 200
    body = {"email": org.admin_email, "password": NEW_PASSWORD, "organizationSlug": org.slug}
    fresh = client.post("/api/v1/auth/login", json=body)
    assert fresh.status_code == 200
    assert client.get("/api/v1/auth/me", headers=_bearer(fresh.json())).status_code == 200
    assert _refresh(client, fresh.json()) == 200


def test_an_admin_password_reset_ends_the_users_sessions(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    agent_email = make_user(container, org, Role.AGENT)
    agent = tokens(client, org, agent_email)
    admin = login(client, org)
    agent_id = _user_id(client, org, agent_email, admin)
    # A change that is not a credential leaves the sessions alone.
    renamed = client.put(f"/api/v1/organizations/{org.id}/users/{agent_id}", json={"fullName": "Al"}, headers=admin)
    assert renamed.status_code == 200
    assert client.get("/api/v1/auth/me", headers=_bearer(agent)).status_code == 200
    agent = client.post("/api/v1/auth/refresh", json={"refreshToken": agent["refreshToken"]}).json()

    reset = client.put(
        f"/api/v1/organizations/{org.id}/users/{agent_id}", json={"password": NEW_PASSWORD}, headers=admin
    )
    assert reset.status_code == 200
    assert _refresh(client, agent) == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(agent)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=admin).status_code == 200


def test_a_refresh_token_of_an_older_generation_is_refused_even_unrevoked(
    client: TestClient, container: Container
) -> None:
    """A refresh that committed beside the password change issued a token its revocation did not see."""
    org = make_org(container, "acme")
    other = tokens(client, org)
    changed = client.put(
        "/api/v1/auth/profile",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=login(client, org),
    )
    assert changed.status_code == 200
    with system_session(container.sessions) as session:
        session.execute(sa.update(RefreshToken).values(revoked_at=None))
        session.commit()
        assert session.scalars(sa.select(col(RefreshToken.generation)).distinct()).all() == [0]
    assert _refresh(client, other) == 401


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(
    client: TestClient, container: Container
) -> None:
    org = make_org(container, "acme")
    agent_email = make_user(container, org, Role.AGENT)
    agent = tokens(client, org, agent_email)
    admin = login(client, org)
    agent_id = _user_id(client, org, agent_email, admin)
    assert client.delete(f"/api/v1/organizations/{org.id}/users/{agent_id}", headers=admin).status_code == 204
    assert _refresh(client, agent) == 401
    back = client.put(f"/api/v1/organizations/{org.id}/users/{agent_id}", json={"isActive": True}, headers=admin)
    assert back.status_code == 200 and back.json()["isActive"] is True
    assert _refresh(client, agent) == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(agent)).status_code == 401
    assert login(client, org, agent_email)


def test_a_deactivated_organization_can_neither_refresh_nor_sign_in(client: TestClient, container: Container) -> None:
    platform = make_org(container, "platform")
    customer = make_org(container, "customer")
    root = login(client, platform, make_user(container, platform, Role.SUPER_ADMIN))
    session = tokens(client, customer)
    assert client.delete(f"/api/v1/organizations/{customer.id}", headers=root).status_code == 204
    assert _refresh(client, session) == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(session)).status_code == 401
    body = {"email": customer.admin_email, "password": PASSWORD, "organizationSlug": customer.slug}
    assert client.post("/api/v1/auth/login", json=body).status_code == 401
