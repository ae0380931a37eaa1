"""The consent ledger and the internal Do-Not-Call list over the API: append-only history, validation, paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.tenancy.models import Role
from tests.compliance.support import NY_PHONE, grant
from tests.factories import OrgFixture, login, make_org, make_user


@pytest.fixture
def org(container: Container) -> OrgFixture:
    return make_org(container, "acme")


@pytest.fixture
def headers(client: TestClient, org: OrgFixture) -> dict[str, str]:
    return login(client, org)


def test_grants_and_revocations_are_events_listed_newest_first(client: TestClient, headers: dict[str, str]) -> None:
    now = utcnow()
    granted = grant(client, headers, "(212) 555-0134", at=now - timedelta(days=10))
    assert granted["phone"] == NY_PHONE and granted["kind"] == "prior_express_written"
    assert granted["ipAddress"] == "203.0.113.7" and granted["recordedBy"].startswith("user:")
    revoked = client.post(
        "/api/v1/consents/revoke", headers=headers, json={"phone": NY_PHONE, "channels": ["sms"], "method": "agent"}
    )
    assert revoked.status_code == 201, revoked.text
    assert revoked.json()["channels"] == ["sms"] and revoked.json()["purposes"] == ["informational", "marketing"]
    grant(client, headers, "+12125550100", at=now - timedelta(days=1))
    history = client.get("/api/v1/consents", headers=headers, params={"phone": "212-555-0134"}).json()
    assert [e["action"] for e in history["items"]] == ["revoke", "grant"]
    everything = client.get("/api/v1/consents", headers=headers, params={"limit": 2}).json()
    assert len(everything["items"]) == 2 and everything["nextCursor"]
    rest = client.get("/api/v1/consents", headers=headers, params={"limit": 2, "cursor": everything["nextCursor"]})
    assert len(rest.json()["items"]) == 1 and rest.json()["nextCursor"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"formUrl": None}, "body"),
        ({"textShown": None}, "body"),
        ({"grantedAt": "2999-01-01T00:00:00Z"}, "body.grantedAt"),
        ({"phone": "12"}, "body.phone"),
        ({"channels": []}, "body.channels"),
        ({"kind": "implied"}, "body.kind"),
    ],
)
def test_grants_without_evidence_or_with_bad_values_are_refused(
    client: TestClient, headers: dict[str, str], change: dict[str, object], field: str
) -> None:
    body = {
        "phone": NY_PHONE, "kind": "prior_express_written", "channels": ["sms"], "purposes": ["marketing"],
        "source": "web_form", "grantedAt": "2025-01-01T00:00:00Z", "formUrl": "https://example.com/form",
        "textShown": "I agree", **change,
    }  # fmt: skip
    response = client.post("/api/v1/consents", headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert any(e["field"].startswith(field) for e in response.json()["errors"])


def test_the_internal_list_keeps_every_request_and_withdrawals_are_events(
    client: TestClient, container: Container, org: OrgFixture, headers: dict[str, str]
) -> None:
    first = client.post("/api/v1/dnc", headers=headers, json={"phone": NY_PHONE, "note": "asked on a call"})
    assert first.status_code == 201 and first.json()["active"] is True
    again = client.post("/api/v1/dnc", headers=headers, json={"phone": "212 555 0134"})
    assert again.json()["id"] == first.json()["id"]  # idempotent while listed
    agent = login(client, org, make_user(container, org, Role.AGENT))
    refused = client.post("/api/v1/dnc/withdrawals", headers=agent, json={"phone": NY_PHONE, "reason": "asked"})
    assert refused.status_code == 403
    withdrawn = client.post(
        "/api/v1/dnc/withdrawals", headers=headers, json={"phone": NY_PHONE, "reason": "asked to hear about listings"}
    )
    assert withdrawn.status_code == 201, withdrawn.text
    listed = client.get("/api/v1/dnc", headers=headers, params={"phone": NY_PHONE}).json()["items"]
    assert [(item["id"], item["active"]) for item in listed] == [(first.json()["id"], False)]
    second = client.post("/api/v1/dnc", headers=headers, json={"phone": NY_PHONE, "source": "web"})
    assert second.status_code == 201 and second.json()["id"] != first.json()["id"]
    listed = client.get("/api/v1/dnc", headers=headers).json()["items"]
    assert [item["active"] for item in listed] == [True, False]
    assert client.delete(f"/api/v1/dnc/{first.json()['id']}", headers=headers).status_code in (404, 405)


def test_withdrawing_a_number_that_is_not_listed_is_a_conflict(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/api/v1/dnc/withdrawals", headers=headers, json={"phone": NY_PHONE, "reason": "asked"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
