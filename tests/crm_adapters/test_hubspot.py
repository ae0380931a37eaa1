"""HubSpot: request shapes of the 2026-03 object API, OAuth refresh, error classification."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx
import pytest

from crm_adapters.errors import (
    CRMAuthError,
    CRMQuotaExhaustedError,
    PermanentCRMError,
    RetryableCRMError,
)
from crm_adapters.factory import build_adapter
from crm_adapters.interfaces import CRMAdapter
from crm_adapters.values import CallOutcome, TaskType

from .samples import APPOINTMENT, CALL, CONTACT, NOW, PHONE_ONLY, TASK, clock, sent_form, sent_json

API = "https://api.hubapi.com"
OBJECTS = f"{API}/crm/objects/2026-03"
TOKEN = {"access_token": "pat-na1-secret"}


def hubspot(http: httpx.AsyncClient, credentials: Mapping[str, str] = TOKEN, **options: Any) -> CRMAdapter:
    return build_adapter("hubspot", credentials=credentials, http=http, clock=clock, **options)


def _object(object_id: str, **properties: str) -> dict[str, Any]:
    return {
        "id": object_id,
        "properties": properties,
        "createdAt": "2026-05-01T15:00:00Z",
        "updatedAt": "2026-05-01T15:00:00Z",
        "archived": False,
    }


def _upserted(object_id: str, new: bool = True) -> dict[str, Any]:
    return {
        "status": "COMPLETE",
        "results": [{**_object(object_id), "new": new}],
        "startedAt": "2026-05-01T15:00:00Z",
        "completedAt": "2026-05-01T15:00:01Z",
    }


async def test_find_contact_searches_email_phone_and_mobile_and_prefers_the_email_match(http, router):
    route = router.post(f"{OBJECTS}/contacts/search").respond(
        200,
        json={
            "total": 2,
            "results": [
                _object("11", firstname="Old", phone="+15551234567"),
                _object("12", firstname="Jane", lastname="Doe", email="jane@example.com", phone="+15551234567"),
            ],
        },
    )
    match = await hubspot(http).find_contact(phone="+15551234567", email="jane@example.com")
    assert match is not None
    assert (match.id, match.name, match.email) == ("12", "Jane Doe", "jane@example.com")
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer pat-na1-secret"
    assert sent_json(route) == {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": "jane@example.com"}]},
            {"filters": [{"propertyName": "phone", "operator": "EQ", "value": "+15551234567"}]},
            {"filters": [{"propertyName": "mobilephone", "operator": "EQ", "value": "+15551234567"}]},
        ],
        "properties": ["firstname", "lastname", "email", "phone"],
        "limit": 10,
    }


async def test_find_contact_returns_none_without_results(http, router):
    router.post(f"{OBJECTS}/contacts/search").respond(200, json={"total": 0, "results": []})
    assert await hubspot(http).find_contact(phone="+15551234567") is None


async def test_upsert_contact_by_email_with_mapped_qualification(http, router):
    route = router.post(f"{OBJECTS}/contacts/batch/upsert").respond(200, json=_upserted("12345", new=False))
    adapter = hubspot(http, field_mapping={"budget": "ai_budget", "timeline": "ai_timeline"})
    assert await adapter.upsert_contact(CONTACT) == "12345"
    assert sent_json(route) == {
        "inputs": [
            {
                "idProperty": "email",
                "id": "jane@example.com",
                "properties": {
                    "firstname": "Jane",
                    "lastname": "Doe",
                    "email": "jane@example.com",
                    "phone": "+15551234567",
                    "ai_timeline": "0-3 months",
                    "ai_budget": "550000",
                },
            }
        ]
    }


async def test_upsert_contact_by_our_lead_id_when_it_is_mapped(http, router):
    route = router.post(f"{OBJECTS}/contacts/batch/upsert").respond(200, json=_upserted("77"))
    adapter = hubspot(http, field_mapping={"lead_id": "seiketsu_lead_id"})
    assert await adapter.upsert_contact(CONTACT) == "77"
    entry = sent_json(route)["inputs"][0]
    assert (entry["idProperty"], entry["id"]) == ("seiketsu_lead_id", "lead-42")
    assert entry["properties"]["seiketsu_lead_id"] == "lead-42"


async def test_upsert_multi_status_error_is_permanent(http, router):
    router.post(f"{OBJECTS}/contacts/batch/upsert").respond(
        207,
        json={
            "status": "COMPLETE",
            "results": [],
            "numErrors": 1,
            "errors": [
                {"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid"}
            ],
        },
    )
    with pytest.raises(PermanentCRMError, match="Property values were not valid") as caught:
        await hubspot(http).upsert_contact(CONTACT)
    assert caught.value.vendor_code == "VALIDATION_ERROR"


async def test_phone_only_contact_is_searched_then_created(http, router):
    search = router.post(f"{OBJECTS}/contacts/search").respond(200, json={"total": 0, "results": []})
    create = router.post(f"{OBJECTS}/contacts").respond(201, json=_object("501", phone="+15557654321"))
    assert await hubspot(http).upsert_contact(PHONE_ONLY) == "501"
    assert search.call_count == 1
    assert sent_json(create) == {"properties": {"phone": "+15557654321"}}


async def test_phone_only_contact_that_exists_is_updated(http, router):
    router.post(f"{OBJECTS}/contacts/search").respond(200, json={"total": 1, "results": [_object("9")]})
    update = router.patch(f"{OBJECTS}/contacts/9").respond(200, json=_object("9"))
    assert await hubspot(http).upsert_contact(PHONE_ONLY) == "9"
    assert sent_json(update) == {"properties": {"phone": "+15557654321"}}


async def test_create_conflict_updates_the_existing_contact(http, router):
    router.post(f"{OBJECTS}/contacts/search").respond(200, json={"total": 0, "results": []})
    router.post(f"{OBJECTS}/contacts").respond(
        409,
        json={
            "status": "error",
            "message": "Contact already exists. Existing ID: 12345",
            "correlationId": "c0ffee",
            "category": "CONFLICT",
        },
    )
    update = router.patch(f"{OBJECTS}/contacts/12345").respond(200, json=_object("12345"))
    assert await hubspot(http).upsert_contact(PHONE_ONLY) == "12345"
    assert update.call_count == 1


async def test_log_call_creates_the_call_associated_to_the_contact(http, router):
    route = router.post(f"{OBJECTS}/calls").respond(201, json=_object("888"))
    adapter = hubspot(http, settings={"owner_id": "67890"})
    assert await adapter.log_call(CALL, contact_id="12345") == "888"
    body = sent_json(route)
    assert body["associations"] == [
        {"to": {"id": "12345"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}
    ]
    properties = body["properties"]
    assert properties.pop("hs_call_body").startswith("<p>Buyer relocating to Austin.</p>")
    assert properties == {
        "hs_timestamp": "2026-05-01T15:00:00Z",
        "hs_call_title": "AI voice agent call",
        "hs_call_direction": "OUTBOUND",
        "hs_call_duration": "185000",
        "hs_call_status": "COMPLETED",
        "hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
        "hs_call_from_number": "+15125550000",
        "hs_call_to_number": "+15551234567",
        "hs_call_recording_url": "https://recordings.example.com/abc.mp3",
        "hubspot_owner_id": "67890",
    }


async def test_log_call_upserts_by_our_call_id_then_associates(http, router):
    upsert = router.post(f"{OBJECTS}/calls/batch/upsert").respond(200, json=_upserted("888", new=False))
    associate = router.put(f"{OBJECTS}/calls/888/associations/default/contacts/12345").respond(
        200, json={"status": "COMPLETE", "results": []}
    )
    adapter = hubspot(http, field_mapping={"call_id": "seiketsu_call_id"}, outcome_mapping={"connected": "custom-1"})
    assert await adapter.log_call(CALL, contact_id="12345") == "888"
    entry = sent_json(upsert)["inputs"][0]
    assert (entry["idProperty"], entry["id"]) == ("seiketsu_call_id", "call-7f3a")
    assert entry["properties"]["seiketsu_call_id"] == "call-7f3a"
    assert entry["properties"]["hs_call_disposition"] == "custom-1"
    assert associate.calls.last.request.content == b""


async def test_create_task_and_meeting(http, router):
    task = router.post(f"{OBJECTS}/tasks").respond(201, json=_object("t1"))
    meeting = router.post(f"{OBJECTS}/meetings").respond(201, json=_object("m1"))
    adapter = hubspot(http)
    assert await adapter.create_task(TASK, contact_id="12345") == "t1"
    assert await adapter.create_appointment(APPOINTMENT, contact_id="12345") == "m1"
    assert sent_json(task) == {
        "properties": {
            "hs_timestamp": "2026-05-02T15:00:00Z",
            "hs_task_subject": "Call back Jane",
            "hs_task_body": "Wants listings under 550k",
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "CALL",
        },
        "associations": [
            {"to": {"id": "12345"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}
        ],
    }
    meeting_body = sent_json(meeting)
    assert meeting_body["properties"]["hs_meeting_end_time"] == "2026-05-03T15:30:00Z"
    assert meeting_body["properties"]["hs_meeting_location"] == "Office"
    assert meeting_body["associations"][0]["types"][0]["associationTypeId"] == 200


# --- OAuth

OAUTH = {
    "access_token": "old-access",
    "refresh_token": "refresh-secret",
    "client_id": "client-id",
    "client_secret": "client-secret",
    "expires_at": str(int(NOW + 3600)),
}

TOKEN_ANSWER = {
    "access_token": "new-access",
    "refresh_token": "refresh-secret",
    "expires_in": 1800,
    "token_type": "bearer",
    "token_use": "access_token",
    "hub_id": 123,
    "user_id": 456,
    "scopes": ["crm.objects.contacts.write"],
}


async def test_oauth_token_is_refreshed_before_it_expires(http, router, caplog):
    caplog.set_level("DEBUG")
    token = router.post(f"{API}/oauth/v3/token").respond(200, json=TOKEN_ANSWER)
    ping = router.get(f"{OBJECTS}/contacts").respond(200, json={"results": []})
    stored = []

    async def store(credentials):
        stored.append(dict(credentials))

    expiring = {**OAUTH, "expires_at": str(int(NOW + 60))}
    await hubspot(http, credentials=expiring, on_credentials_refreshed=store).test_connection()

    assert token.calls.last.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token.calls.last.request.url.query == b""
    assert sent_form(token) == {
        "grant_type": "refresh_token",
        "client_id": "client-id",
        "client_secret": "client-secret",
        "refresh_token": "refresh-secret",
    }
    assert ping.calls.last.request.headers["Authorization"] == "Bearer new-access"
    assert ping.calls.last.request.url.params["limit"] == "1"
    assert stored == [{**OAUTH, "access_token": "new-access", "expires_at": str(int(NOW + 1800))}]
    for secret in ("refresh-secret", "client-secret", "new-access", "old-access"):
        assert secret not in caplog.text


async def test_a_401_refreshes_once_and_retries(http, router):
    router.post(f"{API}/oauth/v3/token").respond(200, json=TOKEN_ANSWER)
    ping = router.get(f"{OBJECTS}/contacts").mock(
        side_effect=[
            httpx.Response(401, json={"status": "error", "message": "expired", "category": "EXPIRED_AUTHENTICATION"}),
            httpx.Response(200, json={"results": []}),
        ]
    )
    await hubspot(http, credentials=OAUTH).test_connection()
    assert [call.request.headers["Authorization"] for call in ping.calls] == ["Bearer old-access", "Bearer new-access"]


async def test_a_refused_refresh_token_is_an_auth_error(http, router):
    router.post(f"{API}/oauth/v3/token").respond(
        400, json={"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"}
    )
    router.get(f"{OBJECTS}/contacts").respond(
        401, json={"status": "error", "message": "expired", "category": "EXPIRED_AUTHENTICATION"}
    )
    with pytest.raises(CRMAuthError, match="missing or invalid refresh token") as caught:
        await hubspot(http, credentials=OAUTH).test_connection()
    assert "refresh-secret" not in str(caught.value)


async def test_a_401_with_a_private_app_token_is_an_auth_error(http, router):
    route = router.get(f"{OBJECTS}/contacts").respond(
        401,
        json={
            "status": "error",
            "message": "Authentication credentials not found.",
            "correlationId": "c",
            "category": "INVALID_AUTHENTICATION",
        },
    )
    with pytest.raises(CRMAuthError) as caught:
        await hubspot(http).test_connection()
    assert (caught.value.status, caught.value.vendor_code) == (401, "INVALID_AUTHENTICATION")
    assert route.call_count == 1


# --- errors

RATE_LIMIT_HEADERS = {
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    "X-HubSpot-RateLimit-Max": "100",
    "X-HubSpot-RateLimit-Remaining": "0",
}


def _rate_limited(policy: str) -> dict[str, str]:
    return {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c",
        "policyName": policy,
        "requestId": "r",
    }


async def test_429_with_retry_after(http, router):
    router.post(f"{OBJECTS}/calls").respond(
        429, json=_rate_limited("SECONDLY"), headers={"Retry-After": "3", **RATE_LIMIT_HEADERS}
    )
    with pytest.raises(RetryableCRMError) as caught:
        await hubspot(http).log_call(CALL, contact_id="1")
    assert (caught.value.status, caught.value.retry_after, caught.value.vendor_code) == (429, 3.0, "SECONDLY")
    assert not isinstance(caught.value, CRMQuotaExhaustedError)


async def test_429_without_retry_after_waits_for_the_rate_limit_window(http, router):
    router.post(f"{OBJECTS}/calls").respond(429, json=_rate_limited("TEN_SECONDLY_ROLLING"), headers=RATE_LIMIT_HEADERS)
    with pytest.raises(RetryableCRMError) as caught:
        await hubspot(http).log_call(CALL, contact_id="1")
    assert caught.value.retry_after == 10.0


async def test_429_without_any_hint(http, router):
    router.post(f"{OBJECTS}/calls").respond(429, json=_rate_limited("SECONDLY"))
    with pytest.raises(RetryableCRMError) as caught:
        await hubspot(http).log_call(CALL, contact_id="1")
    assert caught.value.retry_after is None


async def test_daily_limit_is_quota_exhausted(http, router):
    router.post(f"{OBJECTS}/calls").respond(429, json=_rate_limited("DAILY"))
    with pytest.raises(CRMQuotaExhaustedError, match="daily limit"):
        await hubspot(http).log_call(CALL, contact_id="1")


async def test_500_is_retryable(http, router):
    router.post(f"{OBJECTS}/tasks").respond(
        500, json={"status": "error", "message": "internal error", "correlationId": "c", "category": "INTERNAL_ERROR"}
    )
    with pytest.raises(RetryableCRMError) as caught:
        await hubspot(http).create_task(TASK, contact_id="1")
    assert (caught.value.status, caught.value.message) == (500, "internal error")


async def test_502_gateway_page_is_retryable(http, router):
    router.post(f"{OBJECTS}/tasks").respond(502, text="<html>Bad Gateway</html>")
    with pytest.raises(RetryableCRMError, match="Bad Gateway"):
        await hubspot(http).create_task(TASK, contact_id="1")


async def test_timeout_is_retryable(http, router):
    router.post(f"{OBJECTS}/tasks").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RetryableCRMError, match="timed out"):
        await hubspot(http).create_task(TASK, contact_id="1")


async def test_validation_error_is_permanent_with_the_vendors_message(http, router):
    router.post(f"{OBJECTS}/calls").respond(
        400,
        json={
            "status": "error",
            "message": 'Property values were not valid: [{"name":"hs_call_disposition"}]',
            "correlationId": "c",
            "category": "VALIDATION_ERROR",
            "errors": [{"message": "invalid option", "code": "INVALID_OPTION"}],
        },
    )
    adapter = hubspot(http, outcome_mapping={"connected": "not-a-guid"})
    with pytest.raises(PermanentCRMError, match="Property values were not valid") as caught:
        await adapter.log_call(CALL, contact_id="1")
    assert (caught.value.status, caught.value.vendor_code) == (400, "VALIDATION_ERROR")
    assert not isinstance(caught.value, CRMAuthError)


async def test_unmapped_outcome_sends_no_disposition(http, router):
    route = router.post(f"{OBJECTS}/calls").respond(201, json=_object("1"))
    await hubspot(http).log_call(replace(CALL, outcome=CallOutcome.FAILED), contact_id="1")
    properties = sent_json(route)["properties"]
    assert "hs_call_disposition" not in properties
    assert properties["hs_call_status"] == "FAILED"


async def test_todo_task_type(http, router):
    route = router.post(f"{OBJECTS}/tasks").respond(201, json=_object("t2"))
    await hubspot(http).create_task(replace(TASK, task_type=TaskType.TODO), contact_id="1")
    assert sent_json(route)["properties"]["hs_task_type"] == "TODO"
