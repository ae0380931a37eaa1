"""Organization settings the platform dials or reads aloud are checked when written."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seiketsu.container import Container
from seiketsu.tenancy.models import Role
from tests.factories import login, make_org, make_user


def test_phone_number_settings_must_be_e164(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    path = f"/api/v1/organizations/{org.id}"
    for field, bad in (("transferNumber", "512-555-0100"), ("callbackNumber", "+1555"), ("transferNumber", "call bob")):
        response = client.put(path, json={"settings": {field: bad, "instructions": "be kind"}}, headers=headers)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [f"body.settings.{field}"]
    assert client.get(path, headers=headers).json()["settings"] == {}  # nothing of a refused write is kept

    good = {"transferNumber": "+15125550100", "callbackNumber": "+15125550101", "instructions": "be kind",
            "serviceAreas": ["Zilker", "Travis Heights"]}  # fmt: skip
    response = client.put(path, json={"settings": good}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["settings"] == good  # stored as sent, no keys added
    assert client.put(path, json={"settings": {"serviceAreas": [""]}}, headers=headers).status_code == 422


def test_a_new_organization_keeps_only_the_settings_given(client: TestClient, container: Container) -> None:
    platform = make_org(container, "platform")
    headers = login(client, platform, make_user(container, platform, Role.SUPER_ADMIN))
    body = {"name": "Beta Homes", "slug": "beta", "settings": {"businessName": "Beta"}}
    response = client.post("/api/v1/organizations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["settings"] == {"businessName": "Beta"}
    bad = {**body, "slug": "beta2", "settings": {"callbackNumber": "5125550100"}}
    response = client.post("/api/v1/organizations", json=bad, headers=headers)
    assert [e["field"] for e in response.json()["errors"]] == ["body.settings.callbackNumber"]
