"""Follow Up Boss: Basic auth with the X-System headers, leads as events, /v1/calls, tasks."""

import base64
from typing import Any

import httpx
import pytest

from crm_adapters.errors import CRMAuthError, PermanentCRMError, RetryableCRMError
from crm_adapters.factory import build_adapter
from crm_adapters.interfaces import CRMAdapter

from .samples import APPOINTMENT, CALL, CONTACT, TASK, clock, sent_json

BASE = "https://api.followupboss.com"
CREDENTIALS = {"api_key": "fub-key-secret", "system_key": "system-key-secret"}

PERSON = {
    "id": 123,
    "created": "2026-05-01T15:00:00Z",
    "updated": "2026-05-01T15:00:00Z",
    "name": "Jane Doe",
    "firstName": "Jane",
    "lastName": "Doe",
    "stage": "Lead",
    "source": "AI Voice Agent",
    "emails": [{"value": "jane@example.com"}],
    "phones": [{"value": "555-123-4567"}],
    "assignedUserId": 7,
}


def fub(http: httpx.AsyncClient, **options: Any) -> CRMAdapter:
    return build_adapter("followupboss", credentials=CREDENTIALS, http=http, clock=clock, **options)


async def test_every_request_carries_basic_auth_and_the_system_headers(http, router):
    route = router.get(f"{BASE}/v1/identity").respond(200, json={"account": 1, "user": {"id": 7}})
    await fub(http, settings={"system": "AcmeVoice"}).test_connection()
    headers = route.calls.last.request.headers
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"fub-key-secret:").decode()
    assert (headers["X-System"], headers["X-System-Key"]) == ("AcmeVoice", "system-key-secret")


async def test_new_lead_is_sent_as_an_event(http, router):
    route = router.post(f"{BASE}/v1/events").respond(201, json=PERSON)
    adapter = fub(http, field_mapping={"budget": "customBudget"})
    assert await adapter.upsert_contact(CONTACT) == "123"
    assert sent_json(route) == {
        "source": "AI Voice Agent",
        "system": "Seiketsu",
        "type": "General Inquiry",
        "person": {
            "firstName": "Jane",
            "lastName": "Doe",
            "emails": [{"value": "jane@example.com"}],
            "phones": [{"value": "+15551234567"}],
            "customBudget": 550000,
        },
        "message": "Intent: buy; Location: Austin, TX; Timeline: 0-3 months; Budget: 550,000; Financing: pre-approved",
    }


async def test_event_ignored_with_204_falls_back_to_the_existing_person(http, router):
    router.post(f"{BASE}/v1/events").respond(204)
    people = router.get(f"{BASE}/v1/people").respond(
        200,
        json={
            "_metadata": {"collection": "people", "offset": 0, "limit": 1, "total": 1, "next": None, "nextLink": None},
            "people": [PERSON],
        },
    )
    assert await fub(http).upsert_contact(CONTACT) == "123"
    assert dict(people.calls.last.request.url.params) == {"email": "jane@example.com", "limit": "1"}


async def test_event_ignored_with_204_and_no_person_is_permanent(http, router):
    router.post(f"{BASE}/v1/events").respond(204)
    router.get(f"{BASE}/v1/people").respond(200, json={"_metadata": {"total": 0}, "people": []})
    with pytest.raises(PermanentCRMError, match="lead flow for source 'AI Voice Agent' is archived"):
        await fub(http).upsert_contact(CONTACT)


async def test_log_call_posts_to_v1_calls(http, router):
    route = router.post(f"{BASE}/v1/calls").respond(201, json={"id": 555, "personId": 123})
    assert await fub(http, outcome_mapping={"connected": "Interested"}).log_call(CALL, contact_id="123") == "555"
    body = sent_json(route)
    assert body.pop("note").endswith("Call ID: call-7f3a")
    assert body == {
        "personId": 123,
        "phone": "+15551234567",
        "isIncoming": False,
        "duration": 185,
        "fromNumber": "+15125550000",
        "toNumber": "+15551234567",
        "outcome": "Interested",
        "recordingUrl": "https://recordings.example.com/abc.mp3",
    }


async def test_connected_call_sends_no_outcome_by_default(http, router):
    route = router.post(f"{BASE}/v1/calls").respond(201, json={"id": 556})
    await fub(http).log_call(CALL, contact_id="123")
    assert "outcome" not in sent_json(route)


async def test_task_goes_to_the_leads_assigned_agent(http, router):
    person = router.get(f"{BASE}/v1/people/123").respond(200, json=PERSON)
    task = router.post(f"{BASE}/v1/tasks").respond(201, json={"id": 77})
    assert await fub(http).create_task(TASK, contact_id="123") == "77"
    assert person.call_count == 1
    assert sent_json(task) == {
        "personId": 123,
        "name": "Call back Jane [sk-7afaa346b4bf]",
        "type": "Call",
        "dueDateTime": "2026-05-02T15:00:00Z",
        "assignedUserId": 7,
    }


async def test_appointment_with_a_configured_owner(http, router):
    person = router.get(f"{BASE}/v1/people/123").respond(200, json=PERSON)
    route = router.post(f"{BASE}/v1/appointments").respond(201, json={"id": 88})
    assert await fub(http, settings={"owner_id": "9"}).create_appointment(APPOINTMENT, contact_id="123") == "88"
    assert person.call_count == 0
    assert sent_json(route) == {
        "title": "Buyer consult [sk-37998b609f47]",
        "start": "2026-05-03T15:00:00Z",
        "end": "2026-05-03T15:30:00Z",
        "description": "Booked by AI agent",
        "invitees": [{"personId": 123}, {"userId": 9}],
        "location": "Office",
    }


async def test_429_waits_retry_after(http, router):
    router.post(f"{BASE}/v1/calls").respond(
        429,
        json={"errorMessage": "Too many requests"},
        headers={
            "Retry-After": "4",
            "X-RateLimit-Limit": "200",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Window": "10",
            "X-RateLimit-Context": "global",
        },
    )
    with pytest.raises(RetryableCRMError) as caught:
        await fub(http).log_call(CALL, contact_id="123")
    assert caught.value.retry_after == 4.0


async def test_429_without_retry_after_waits_the_window(http, router):
    router.post(f"{BASE}/v1/calls").respond(429, headers={"X-RateLimit-Window": "10"})
    with pytest.raises(RetryableCRMError) as caught:
        await fub(http).log_call(CALL, contact_id="123")
    assert caught.value.retry_after == 10.0


async def test_400_carries_the_error_message(http, router):
    router.post(f"{BASE}/v1/tasks").respond(400, json={"errorMessage": "Invalid dueDateTime"})
    with pytest.raises(PermanentCRMError, match="Invalid dueDateTime") as caught:
        await fub(http, settings={"owner_id": "9"}).create_task(TASK, contact_id="123")
    assert caught.value.status == 400


async def test_401_is_an_auth_error(http, router):
    router.get(f"{BASE}/v1/identity").respond(401, json={"errorMessage": "Invalid API key"})
    with pytest.raises(CRMAuthError, match="Invalid API key"):
        await fub(http).test_connection()
