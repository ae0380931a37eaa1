"""The RBAC matrix: every protected route answers 403 exactly when the caller's role lacks a permission."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from seiketsu.auth.rbac import Permission, permissions_for
from seiketsu.container import Container
from seiketsu.tenancy.models import Role
from tests.factories import login, make_org, make_user
from tests.seiketsu.routes import api_routes, fill, path_params, required_permissions

P = Permission

# The intended matrix, stated independently of the code under test.
EXPECTED = {
    Role.ORG_ADMIN: {P.USER_CREATE, P.INTEGRATION_CREATE, P.LEAD_MANAGE, P.ORGANIZATION_UPDATE, P.ANALYTICS_READ},
    Role.MANAGER: {P.LEAD_MANAGE, P.VOICE_MANAGE, P.USER_READ, P.INTEGRATION_READ, P.ANALYTICS_READ},
    Role.AGENT: {P.LEAD_READ, P.LEAD_UPDATE, P.VOICE_READ, P.VOICE_MANAGE},
}
DENIED = {
    Role.ORG_ADMIN: {P.ORGANIZATION_CREATE, P.ORGANIZATION_DELETE},
    Role.MANAGER: {P.USER_CREATE, P.ORGANIZATION_UPDATE, P.INTEGRATION_CREATE},
    Role.AGENT: {P.LEAD_MANAGE, P.USER_READ, P.INTEGRATION_READ, P.ANALYTICS_READ, P.ORGANIZATION_UPDATE},
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_role_grants_match_the_intended_matrix(role: Role) -> None:
    granted = permissions_for(role)
    assert EXPECTED[role] <= granted
    assert not (DENIED[role] & granted)


def test_super_admin_holds_every_permission() -> None:
    assert permissions_for(Role.SUPER_ADMIN) == frozenset(Permission)


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.MANAGER, Role.AGENT])
def test_every_route_enforces_its_permissions(client: TestClient, container: Container, role: Role) -> None:
    org = make_org(container, "acme")
    email = org.admin_email if role is Role.ORG_ADMIN else make_user(container, org, role)
    headers = login(client, org, email)
    granted = permissions_for(role)
    checked = 0
    for method, path, route in api_routes(client.app):  # type: ignore[arg-type]
        needed = required_permissions(route)
        if not needed:
            continue
        values = {name: str(uuid.uuid4()) for name in path_params(path)}
        values["organization_id"] = str(org.id)
        response = client.request(method, fill(path, values), headers=headers, json={})
        if needed <= granted:
            assert response.status_code not in (401, 403), f"{role} {method} {path}: {response.text}"
        else:
            assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
            assert "missing permission" in response.json()["detail"]
        checked += 1
    assert checked >= 15
