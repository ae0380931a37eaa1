"""Pipedrive: v2 persons, v1 call logs, v2 activities, x-api-token, error envelope."""

from typing import Any

import httpx
import pytest

from crm_adapters.errors import CRMAuthError, CRMConfigError, PermanentCRMError, RetryableCRMError
from crm_adapters.factory import build_adapter
from crm_adapters.interfaces import CRMAdapter

from .samples import APPOINTMENT, CALL, CONTACT, TASK, clock, sent_json

BASE = "https://acme.pipedrive.com"
BUDGET_KEY = "d4de1c1518b4531717c676029a45911c340390a6"


def pipedrive(http: httpx.AsyncClient, **options: Any) -> CRMAdapter:
    settings = {"company_domain": "acme", **options.pop("settings", {})}
    return build_adapter(
        "pipedrive", credentials={"api_token": "pd-secret"}, http=http, settings=settings, clock=clock, **options
    )


def _search_answer(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "success": True,
        "data": {"items": [{"result_score": 1, "item": item} for item in items]},
        "additional_data": {"next_cursor": None},
    }


PERSON = {
    "id": 123,
    "type": "person",
    "name": "Jane Doe",
    "phones": ["+15551234567"],
    "emails": ["jane@example.com"],
    "owner": {"id": 456},
    "organization": None,
}


async def test_find_contact_searches_v2_persons_with_the_api_token_header(http, router):
    route = router.get(f"{BASE}/api/v2/persons/search").respond(200, json=_search_answer(PERSON))
    match = await pipedrive(http).find_contact(email="jane@example.com")
    assert match is not None
    assert (match.id, match.name, match.email, match.phone) == ("123", "Jane Doe", "jane@example.com", "+15551234567")
    request = route.calls.last.request
    assert request.headers["x-api-token"] == "pd-secret"
    assert "api_token" not in str(request.url)
    assert dict(request.url.params) == {"term": "jane@example.com", "fields": "email", "exact_match": "true"}


async def test_new_person_is_created_with_custom_fields(http, router):
    search = router.get(f"{BASE}/api/v2/persons/search").respond(200, json=_search_answer())
    create = router.post(f"{BASE}/api/v2/persons").respond(
        200, json={"success": True, "data": {"id": 124, "name": "Jane Doe"}}
    )
    adapter = pipedrive(http, field_mapping={"budget": BUDGET_KEY}, settings={"owner_id": "456"})
    assert await adapter.upsert_contact(CONTACT) == "124"
    assert [call.request.url.params["fields"] for call in search.calls] == ["email", "phone"]
    assert sent_json(create) == {
        "name": "Jane Doe",
        "emails": [{"value": "jane@example.com", "primary": True, "label": "work"}],
        "phones": [{"value": "+15551234567", "primary": True, "label": "mobile"}],
        "custom_fields": {BUDGET_KEY: 550000},
        "owner_id": 456,
    }


async def test_existing_person_is_patched_without_touching_emails_or_phones(http, router):
    router.get(f"{BASE}/api/v2/persons/search").respond(200, json=_search_answer(PERSON))
    patch = router.patch(f"{BASE}/api/v2/persons/123").respond(200, json={"success": True, "data": PERSON})
    adapter = pipedrive(http, field_mapping={"budget": BUDGET_KEY})
    assert await adapter.upsert_contact(CONTACT) == "123"
    assert sent_json(patch) == {"name": "Jane Doe", "custom_fields": {BUDGET_KEY: 550000}}


async def test_log_call_posts_a_v1_call_log(http, router):
    route = router.post(f"{BASE}/api/v1/callLogs").respond(
        200, json={"success": True, "data": {"id": "a1b2c3", "person_id": 123, "outcome": "connected"}}
    )
    assert await pipedrive(http, settings={"owner_id": "456"}).log_call(CALL, contact_id="123") == "a1b2c3"
    body = sent_json(route)
    assert body.pop("note").startswith("<p>Buyer relocating to Austin.</p>")
    assert body == {
        "person_id": 123,
        "subject": "AI voice agent call",
        "duration": "185",
        "outcome": "connected",
        "from_phone_number": "+15125550000",
        "to_phone_number": "+15551234567",
        "start_time": "2026-05-01T15:00:00Z",
        "end_time": "2026-05-01T15:03:05Z",
        "user_id": 456,
    }


async def test_unmapped_outcome_is_a_configuration_error(http, router):
    with pytest.raises(CRMConfigError, match="no Pipedrive outcome"):
        await pipedrive(http, outcome_mapping={"connected": None}).log_call(CALL, contact_id="123")


async def test_task_and_meeting_are_v2_activities(http, router):
    route = router.post(f"{BASE}/api/v2/activities").respond(200, json={"success": True, "data": {"id": 901}})
    adapter = pipedrive(http)
    assert await adapter.create_task(TASK, contact_id="123") == "901"
    assert sent_json(route) == {
        "subject": "Call back Jane [sk-7afaa346b4bf]",
        "type": "call",
        "due_date": "2026-05-02",
        "due_time": "15:00",
        "note": "<p>Wants listings under 550k</p>",
        "done": False,
        "participants": [{"person_id": 123, "primary": True}],
    }
    await adapter.create_appointment(APPOINTMENT, contact_id="123")
    meeting = sent_json(route)
    assert (meeting["type"], meeting["duration"], meeting["due_time"]) == ("meeting", "00:30", "15:00")
    assert meeting["note"] == "<p>Booked by AI agent</p><p>Location: Office</p>"


async def test_non_numeric_person_id_is_permanent(http):
    with pytest.raises(PermanentCRMError, match="not a Pipedrive person id"):
        await pipedrive(http).create_task(TASK, contact_id="abc")


async def test_429_waits_for_the_rate_limit_reset(http, router):
    router.post(f"{BASE}/api/v1/callLogs").respond(
        429,
        json={"success": False, "error": "Rate limit exceeded", "errorCode": 429},
        headers={"x-ratelimit-limit": "80", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"},
    )
    with pytest.raises(RetryableCRMError, match="Rate limit exceeded") as caught:
        await pipedrive(http).log_call(CALL, contact_id="123")
    assert caught.value.retry_after == 2.0


async def test_403_html_from_the_firewall_is_retryable(http, router):
    router.post(f"{BASE}/api/v1/callLogs").respond(
        403, text="<!DOCTYPE html><title>Access denied | Cloudflare</title>", headers={"Content-Type": "text/html"}
    )
    with pytest.raises(RetryableCRMError, match="firewall"):
        await pipedrive(http).log_call(CALL, contact_id="123")


async def test_401_envelope_is_an_auth_error(http, router):
    router.get(f"{BASE}/api/v1/users/me").respond(
        401,
        json={
            "success": False,
            "error": "unauthorized access",
            "errorCode": 401,
            "error_info": "Please check developers.pipedrive.com",
        },
    )
    with pytest.raises(CRMAuthError, match="unauthorized access - Please check developers.pipedrive.com"):
        await pipedrive(http).test_connection()


async def test_validation_error_is_permanent(http, router):
    router.post(f"{BASE}/api/v2/activities").respond(
        400, json={"success": False, "error": "Invalid due_date", "error_info": "", "data": None}
    )
    with pytest.raises(PermanentCRMError, match="Invalid due_date"):
        await pipedrive(http).create_task(TASK, contact_id="123")


def test_company_domain_is_required(http):
    with pytest.raises(CRMConfigError, match="company_domain"):
        build_adapter("pipedrive", credentials={"api_token": "t"}, http=http)
