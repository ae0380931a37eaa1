"""Input no route can store answers 422 problem+json naming the field, never 500, and is not stored."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from seiketsu.container import Container
from seiketsu.request_guard import MAX_VALUES_PER_PARAMETER, query_errors
from seiketsu.schemas import MAX_JSON_OBJECT_BYTES, MAX_TEXT_LENGTH
from tests.factories import login, make_org
from tests.webhooks.support import create_source, path_of, standard_headers

YEAR_ONE_EAST = "0001-01-01T00:00:00+05:00"
YEAR_9999_WEST = "9999-12-31T23:00:00-05:00"


def _fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


def _lead(**fields: Any) -> dict[str, Any]:
    return {"phone": "+15125550123", **fields}


def test_a_nul_character_anywhere_is_refused_naming_the_field(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    assert _fields(client.post("/api/v1/leads", json=_lead(firstName="Da\x00na"), headers=headers)) == [
        "body.firstName"
    ]
    nested = _lead(qualification={"notes": ["fine", "not\x00fine"]})
    assert _fields(client.post("/api/v1/leads", json=nested, headers=headers)) == ["body.qualification.notes.1"]
    assert _fields(client.get("/api/v1/leads", params={"q": "x\x00"}, headers=headers)) == ["query.q"]
    assert _fields(client.get("/api/v1/leads/%00", headers=headers)) == ["path"]
    settings = {"settings": {"instructions": "be kind\x00"}}
    assert _fields(client.put(f"/api/v1/organizations/{org.id}", json=settings, headers=headers)) == [
        "body.settings.instructions"
    ]
    assert client.get("/api/v1/leads", headers=headers).json()["items"] == []


def test_the_generic_lead_webhook_refuses_a_nul_character(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    source = create_source(client, login(client, org), provider="generic", name="Form")
    body = b'{"phone": "+15125550123", "firstName": "Da\\u0000na"}'
    response = client.post(path_of(source), content=body, headers=standard_headers(source["secret"], body))
    assert _fields(response) == ["body.firstName"]
    events = client.get("/api/v1/webhook-sources", headers=login(client, org))
    assert events.status_code == 200


def test_numbers_json_cannot_store_are_refused(client: TestClient, container: Container) -> None:
    headers = login(client, make_org(container, "acme"))
    for number in (b"1e400", b"-1e400", b"NaN", b"Infinity"):
        body = b'{"phone": "+15125550123", "qualification": {"budget": ' + number + b"}}"
        response = client.post("/api/v1/leads", content=body, headers={**headers, "content-type": "application/json"})
        assert _fields(response) == ["body.qualification.budget"], number


def test_moments_without_a_utc_equivalent_are_refused(client: TestClient, container: Container) -> None:
    headers = login(client, make_org(container, "acme"))
    for moment in (YEAR_ONE_EAST, YEAR_9999_WEST):
        created = client.post("/api/v1/leads", json=_lead(lastInquiryAt=moment), headers=headers)
        assert _fields(created) == ["body.lastInquiryAt"]
        listed = client.get("/api/v1/leads", params={"createdFrom": moment}, headers=headers)
        assert _fields(listed) == ["query.createdFrom"]
        calls = client.get("/api/v1/voice/sessions", params={"createdTo": moment}, headers=headers)
        assert _fields(calls) == ["query.createdTo"]
    fine = client.post("/api/v1/leads", json=_lead(lastInquiryAt="0001-01-01T05:00:00+05:00"), headers=headers)
    assert fine.status_code == 201 and fine.json()["lastInquiryAt"].startswith("0001-01-01T00:00:00")


def test_a_filter_list_beyond_the_bound_is_refused(client: TestClient, container: Container) -> None:
    headers = login(client, make_org(container, "acme"))
    allowed = client.get("/api/v1/leads", params=[("status", "new")] * MAX_VALUES_PER_PARAMETER, headers=headers)
    assert allowed.status_code == 200
    flood = client.get("/api/v1/leads", params=[("status", "new")] * 1000, headers=headers)
    assert _fields(flood) == ["query.status"]
    assert _fields(client.get("/api/v1/leads", params=[(f"p{i}", "x") for i in range(1000)], headers=headers)) == [
        "query"
    ]


def test_sizes_are_bounded(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    huge = "x" * 10_000_000
    instructions = {"settings": {"instructions": huge}}
    assert _fields(client.put(f"/api/v1/organizations/{org.id}", json=instructions, headers=headers)) == [
        "body.settings"
    ]
    assert _fields(client.post("/api/v1/leads", json=_lead(qualification={"notes": huge}), headers=headers)) == [
        "body.qualification"
    ]
    just_fits = {"settings": {"instructions": "x" * (MAX_JSON_OBJECT_BYTES - 100)}}
    assert client.put(f"/api/v1/organizations/{org.id}", json=just_fits, headers=headers).status_code == 200
    # A text field with no narrower bound of its own still has one.
    zone = {"timezone": "x" * (MAX_TEXT_LENGTH + 1)}
    assert _fields(client.put(f"/api/v1/organizations/{org.id}", json=zone, headers=headers)) == ["body.timezone"]


def test_a_query_of_100000_values_is_refused_before_any_route() -> None:
    """More values than PostgreSQL takes as parameters of one statement (65,535); too long a URL for httpx."""
    query = "&".join(["status=new"] * 100_000).encode()
    assert [(e.field, e.message) for e in query_errors(query)] == [("query.status", "at most 100 values")]


def test_an_unpaired_surrogate_is_refused(client: TestClient, container: Container) -> None:
    headers = {**login(client, make_org(container, "acme")), "content-type": "application/json"}
    body = b'{"name": "key \\ud800", "role": "agent"}'
    assert _fields(client.post("/api/v1/api-keys", content=body, headers=headers)) == ["body.name"]
    paired = b'{"name": "key \\ud83d\\ude00", "role": "agent"}'
    assert client.post("/api/v1/api-keys", content=paired, headers=headers).status_code == 201


def test_null_for_a_field_that_cannot_be_empty_is_refused(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    headers = login(client, org)
    for field in ("name", "timezone", "settings"):
        response = client.put(f"/api/v1/organizations/{org.id}", json={field: None}, headers=headers)
        assert _fields(response) == [f"body.{field}"]
    me = client.get("/api/v1/auth/me", headers=headers).json()
    for field in ("fullName", "role", "isActive", "password"):
        response = client.put(f"/api/v1/organizations/{org.id}/users/{me['id']}", json={field: None}, headers=headers)
        assert _fields(response) == [f"body.{field}"]
    assert client.get(f"/api/v1/organizations/{org.id}", headers=headers).json()["name"] == "Acme"


def test_invalid_json_names_the_body_and_where_it_breaks(client: TestClient, container: Container) -> None:
    headers = {**login(client, make_org(container, "acme")), "content-type": "application/json"}
    response = client.post("/api/v1/leads", content=b'{"phone": "+15125550142",, }', headers=headers)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert error["message"].startswith("the body is not valid JSON: ") and "at character 25" in error["message"]


def test_messages_do_not_carry_pydantics_prefixes(client: TestClient, container: Container) -> None:
    headers = login(client, make_org(container, "acme"))
    org_id = client.get("/api/v1/auth/me", headers=headers).json()["organizationId"]
    response = client.put(f"/api/v1/organizations/{org_id}", json={"timezone": "Mars/Base"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body.timezone", "message": "not an IANA time zone"}]
    assert response.json()["detail"] == "body.timezone: not an IANA time zone"
