"""Test data built through the product's own services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi.testclient import TestClient

from seiketsu.auth.service import create_api_key
from seiketsu.container import Container
from seiketsu.tenancy.models import Role, User
from seiketsu.tenancy.scoping import system_session, tenant_session
from seiketsu.tenancy.service import create_organization

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class OrgFixture:
    id: uuid.UUID
    slug: str
    admin_email: str


def make_org(container: Container, slug: str, *, numbers: tuple[str, ...] = ()) -> OrgFixture:
    with system_session(container.sessions) as session:
        created = create_organization(
            session,
            container.passwords,
            name=slug.title(),
            slug=slug,
            admin_email=f"admin@{slug}.test",
            numbers=numbers,
        )
        created.admin.password_hash = container.passwords.hash(PASSWORD)  # as if the admin had set their own
        created.admin.password_change_required = False
        session.commit()
        return OrgFixture(id=created.organization.id, slug=slug, admin_email=created.admin.email)


def make_user(container: Container, org: OrgFixture, role: Role, *, email: str | None = None) -> str:
    email = email or f"{role.value}-{uuid.uuid4().hex[:6]}@{org.slug}.test"
    with tenant_session(container.sessions, org.id) as session:
        session.add(User(email=email, password_hash=container.passwords.hash(PASSWORD), role=role))
        session.commit()
    return email


def make_api_key(container: Container, org: OrgFixture, role: Role = Role.ORG_ADMIN) -> str:
    with tenant_session(container.sessions, org.id) as session:
        issued = create_api_key(session, organization_id=org.id, name="test", role=role, created_by=None)
        session.commit()
        return issued.key


def login(client: TestClient, org: OrgFixture, email: str | None = None) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email or org.admin_email, "password": PASSWORD, "organizationSlug": org.slug},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


def tokens(client: TestClient, org: OrgFixture, email: str | None = None) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email or org.admin_email, "password": PASSWORD, "organizationSlug": org.slug},
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body
