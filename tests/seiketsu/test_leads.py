from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seiketsu.container import Container
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session
from tests.factories import login, make_org


@pytest.fixture
def headers(client: TestClient, container: Container) -> dict[str, str]:
    return login(client, make_org(container, "acme"))


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/leads", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_create_normalises_the_phone_and_round_trips_in_camel_case(client: TestClient, headers: dict[str, str]) -> None:
    lead = _create(
        client,
        headers,
        firstName="Maria",
        lastName="Lopez",
        phone="(512) 555-0142",
        email="Maria@Example.com",
        source="zillow",
        state="tx",
        postalCode="78701",
        qualification={"intent": "sell"},
        lastInquiryAt="2026-10-01T12:00:00Z",
    )
    assert lead["phone"] == "+15125550142"
    assert lead["state"] == "TX"
    assert lead["status"] == "new"
    fetched = client.get(f"/api/v1/leads/{lead['id']}", headers=headers).json()
    assert fetched == lead
    assert fetched["lastInquiryAt"].startswith("2026-10-01T12:00:00")


def test_validation_errors_name_each_field(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/leads", json={"phone": "12", "email": "not-an-email", "state": "Texas", "bogus": 1}, headers=headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"body.phone", "body.email", "body.state", "body.bogus"} <= fields


def test_duplicate_phone_is_a_conflict_within_an_org_but_not_across(
    client: TestClient, container: Container, headers: dict[str, str]
) -> None:
    _create(client, headers, phone="+15125550142")
    response = client.post("/api/v1/leads", json={"phone": "512-555-0142"}, headers=headers)
    assert response.status_code == 409
    other = login(client, make_org(container, "other"))
    _create(client, other, phone="+15125550142")


def test_update_and_delete(client: TestClient, headers: dict[str, str]) -> None:
    lead = _create(client, headers, phone="+15125550142", firstName="Old")
    response = client.put(
        f"/api/v1/leads/{lead['id']}", json={"firstName": "New", "status": "qualified"}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["firstName"] == "New" and response.json()["status"] == "qualified"
    assert response.json()["phone"] == "+15125550142"
    bad = client.put(f"/api/v1/leads/{lead['id']}", json={"phone": None}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.phone"
    assert client.delete(f"/api/v1/leads/{lead['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=headers).status_code == 404


def test_filters_and_search(client: TestClient, headers: dict[str, str]) -> None:
    _create(client, headers, phone="+15125550101", firstName="Ann", lastName="Baker", source="zillow")
    _create(client, headers, phone="+15125550102", firstName="Bob", lastName="Carter", source="web", status="qualified")
    _create(client, headers, phone="+13105550103", firstName="Cy", lastName="Baker_", source="web", email="cy@x.io")

    def names(query: str) -> list[str]:
        response = client.get(f"/api/v1/leads?{query}&sort=firstName", headers=headers)
        assert response.status_code == 200, response.text
        return [item["firstName"] for item in response.json()["items"]]

    assert names("source=web") == ["Bob", "Cy"]
    assert names("status=qualified") == ["Bob"]
    assert names("status=new&status=qualified") == ["Ann", "Bob", "Cy"]
    assert names("q=baker") == ["Ann", "Cy"]
    assert names("q=baker_") == ["Cy"]  # LIKE wildcards in the search term are literal
    assert names("q=310-555") == ["Cy"]
    assert names("q=cy%40x") == ["Cy"]
    assert names("createdFrom=2000-01-01T00:00:00Z&createdTo=2000-01-02T00:00:00Z") == []
    response = client.get("/api/v1/leads?sort=phone", headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.sort"


def test_sorting_on_several_fields(client: TestClient, headers: dict[str, str]) -> None:
    for i, (first, last) in enumerate([("Zed", "Adams"), ("Amy", "Baker"), ("Bea", "Adams"), ("Cal", "Baker")]):
        _create(client, headers, phone=f"+1512555020{i}", firstName=first, lastName=last)
    response = client.get("/api/v1/leads?sort=-lastName,firstName", headers=headers)
    assert [item["firstName"] for item in response.json()["items"]] == ["Amy", "Cal", "Bea", "Zed"]


def test_cursor_pagination_stays_correct_while_rows_are_inserted(client: TestClient, headers: dict[str, str]) -> None:
    existing = {_create(client, headers, phone=f"+1512555{1000 + i}", lastName=f"L{i % 3}")["id"] for i in range(25)}
    seen: list[str] = []
    cursor = None
    inserted = 0
    while True:
        url = "/api/v1/leads?limit=4&sort=lastName,-createdAt" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json()
        seen.extend(item["id"] for item in page["items"])
        # Someone adds leads while we page; they may or may not show up, but nothing already there is lost.
        _create(client, headers, phone=f"+1512555{2000 + inserted}", lastName="L1")
        inserted += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a lead appeared twice"
    assert existing <= set(seen), "a lead that existed before paging was skipped"


def test_bad_cursor_is_a_clear_error(client: TestClient, headers: dict[str, str]) -> None:
    for i in range(3):
        _create(client, headers, phone=f"+1512555030{i}")
    cursor = client.get("/api/v1/leads?limit=1", headers=headers).json()["nextCursor"]
    response = client.get(f"/api/v1/leads?limit=1&sort=lastName&cursor={cursor}", headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.cursor"
    response = client.get("/api/v1/leads?cursor=%%%garbage", headers=headers)
    assert response.status_code == 422


def test_qualification_is_camel_case_on_the_wire_and_one_spelling_when_stored(
    client: TestClient, container: Container
) -> None:
    headers = login(client, make_org(container, "acme"))
    body = {"phone": "+15125550142", "qualification": {"propertyType": "condo", "budget_max": 400000}}
    created = client.post("/api/v1/leads", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["qualification"] == {"propertyType": "condo", "budgetMax": 400000}
    with system_session(container.sessions) as session:
        lead = session.get(Lead, uuid.UUID(created.json()["id"]))
        assert lead is not None and lead.qualification == {"property_type": "condo", "budget_max": 400000}
