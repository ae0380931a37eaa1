"""Zoho CRM: data-centre domains, upsert with duplicate_check_fields, Calls, OAuth refresh."""

from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from crm_adapters.errors import CRMAuthError, CRMConfigError, PermanentCRMError, RetryableCRMError
from crm_adapters.factory import build_adapter
from crm_adapters.interfaces import CRMAdapter

from .samples import APPOINTMENT, CALL, CONTACT, NOW, PHONE_ONLY, TASK, clock, sent_form, sent_json

API = "https://www.zohoapis.com/crm/v8"
CREDENTIALS = {
    "access_token": "1000.old",
    "refresh_token": "1000.refresh-secret",
    "client_id": "1000.CLIENT",
    "client_secret": "client-secret",
    "expires_at": str(int(NOW + 3000)),
}
INVALID_TOKEN = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}


def zoho(http: httpx.AsyncClient, credentials: Mapping[str, str] = CREDENTIALS, **options: Any) -> CRMAdapter:
    return build_adapter("zoho", credentials=credentials, http=http, clock=clock, **options)


def _written(record_id: str, action: str = "insert") -> dict[str, Any]:
    return {
        "data": [
            {
                "code": "SUCCESS",
                "duplicate_field": None if action == "insert" else "Email",
                "action": action,
                "status": "success",
                "message": "record added" if action == "insert" else "record updated",
                "details": {
                    "id": record_id,
                    "Modified_Time": "2026-05-01T10:00:00-05:00",
                    "Created_Time": "2026-05-01T10:00:00-05:00",
                    "Modified_By": {"id": "1", "name": "API"},
                    "Created_By": {"id": "1", "name": "API"},
                },
            }
        ]
    }


async def test_upsert_sends_duplicate_check_fields_and_zoho_oauthtoken(http, router):
    route = router.post(f"{API}/Leads/upsert").respond(200, json=_written("4150868000001985011", "update"))
    adapter = zoho(http, field_mapping={"lead_id": "Seiketsu_Lead_Id", "budget": "Budget"}, settings={"owner_id": "99"})
    assert await adapter.upsert_contact(CONTACT) == "4150868000001985011"
    assert route.calls.last.request.headers["Authorization"] == "Zoho-oauthtoken 1000.old"
    assert sent_json(route) == {
        "data": [
            {
                "Seiketsu_Lead_Id": "lead-42",
                "First_Name": "Jane",
                "Last_Name": "Doe",
                "Email": "jane@example.com",
                "Phone": "+15551234567",
                "Lead_Source": "AI Voice Agent",
                "Budget": 550000,
                "Owner": {"id": "99"},
            }
        ],
        "duplicate_check_fields": ["Seiketsu_Lead_Id", "Email", "Phone"],
        "trigger": ["workflow"],
    }


async def test_upsert_phone_only_lead_gets_a_last_name(http, router):
    route = router.post(f"{API}/Leads/upsert").respond(201, json=_written("1"))
    await zoho(http).upsert_contact(PHONE_ONLY)
    assert sent_json(route)["data"] == [{"Phone": "+15557654321", "Last_Name": "Unknown"}]
    assert sent_json(route)["duplicate_check_fields"] == ["Phone"]


async def test_record_level_error_is_permanent(http, router):
    router.post(f"{API}/Leads/upsert").respond(
        400,
        json={
            "data": [
                {
                    "code": "MANDATORY_NOT_FOUND",
                    "details": {"api_name": "Last_Name", "json_path": "$.data[0].Last_Name"},
                    "message": "required field not found",
                    "status": "error",
                }
            ]
        },
    )
    with pytest.raises(PermanentCRMError, match="required field not found") as caught:
        await zoho(http).upsert_contact(CONTACT)
    assert (caught.value.status, caught.value.vendor_code) == (400, "MANDATORY_NOT_FOUND")


async def test_record_level_error_inside_a_success_status_is_permanent(http, router):
    router.post(f"{API}/Tasks").respond(
        202,
        json={
            "data": [
                {
                    "code": "INVALID_DATA",
                    "details": {"api_name": "Due_Date"},
                    "message": "invalid data",
                    "status": "error",
                }
            ]
        },
    )
    with pytest.raises(PermanentCRMError, match="invalid data") as caught:
        await zoho(http).create_task(TASK, contact_id="1")
    assert caught.value.vendor_code == "INVALID_DATA"


async def test_search_answering_204_finds_nothing(http, router):
    route = router.get(f"{API}/Leads/search").respond(204)
    assert await zoho(http).find_contact(phone="+15551234567", email="jane@example.com") is None
    assert [dict(call.request.url.params) for call in route.calls] == [
        {"email": "jane@example.com"},
        {"phone": "+15551234567"},
    ]


async def test_search_finds_a_lead(http, router):
    router.get(f"{API}/Leads/search").respond(
        200,
        json={
            "data": [
                {"id": "4150868000001985011", "Last_Name": "Doe", "Email": "jane@example.com", "Phone": "+15551234567"}
            ],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False},
        },
    )
    match = await zoho(http).find_contact(email="jane@example.com")
    assert match is not None
    assert (match.id, match.name, match.phone) == ("4150868000001985011", "Doe", "+15551234567")


async def test_log_call_links_the_lead_through_what_id(http, router):
    route = router.post(f"{API}/Calls").respond(201, json=_written("5001"))
    adapter = zoho(http, outcome_mapping={"connected": "Interested"})
    assert await adapter.log_call(CALL, contact_id="4150868000001985011") == "5001"
    (record,) = sent_json(route)["data"]
    assert record.pop("Description").endswith("Call ID: call-7f3a")
    assert record == {
        "Subject": "AI voice agent call [sk-2d95d5a62ce5]",
        "Call_Type": "Outbound",
        "Call_Start_Time": "2026-05-01T15:00:00+00:00",
        "Call_Duration": "03:05",
        "What_Id": {"id": "4150868000001985011"},
        "$se_module": "Leads",
        "Call_Result": "Interested",
    }


async def test_log_call_in_the_contacts_module_links_through_who_id(http, router):
    route = router.post(f"{API}/Calls").respond(201, json=_written("5002"))
    await zoho(http, settings={"module": "Contacts"}).log_call(CALL, contact_id="77")
    (record,) = sent_json(route)["data"]
    assert record["Who_Id"] == {"id": "77"}
    assert "What_Id" not in record and "$se_module" not in record
    assert "Call_Result" not in record


async def test_log_call_with_a_mapped_call_id_returns_the_call_already_logged(http, router):
    search = router.get(f"{API}/Calls/search").respond(200, json={"data": [{"id": "5001"}], "info": {"count": 1}})
    create = router.post(f"{API}/Calls").respond(201, json=_written("5003"))
    adapter = zoho(http, field_mapping={"call_id": "Seiketsu_Call_Id"})
    assert await adapter.log_call(CALL, contact_id="1") == "5001"
    assert search.calls.last.request.url.params["criteria"] == "(Seiketsu_Call_Id:equals:call-7f3a)"
    assert create.call_count == 0


async def test_log_call_with_a_mapped_call_id_writes_it_when_new(http, router):
    router.get(f"{API}/Calls/search").respond(204)
    create = router.post(f"{API}/Calls").respond(201, json=_written("5004"))
    adapter = zoho(http, field_mapping={"call_id": "Seiketsu_Call_Id"})
    assert await adapter.log_call(CALL, contact_id="1") == "5004"
    assert sent_json(create)["data"][0]["Seiketsu_Call_Id"] == "call-7f3a"


async def test_tasks_and_events(http, router):
    task = router.post(f"{API}/Tasks").respond(201, json=_written("6001"))
    event = router.post(f"{API}/Events").respond(201, json=_written("7001"))
    adapter = zoho(http)
    assert await adapter.create_task(TASK, contact_id="1") == "6001"
    assert await adapter.create_appointment(APPOINTMENT, contact_id="1") == "7001"
    assert sent_json(task) == {
        "data": [
            {
                "Subject": "Call back Jane [sk-7afaa346b4bf]",
                "Due_Date": "2026-05-02",
                "Status": "Not Started",
                "Priority": "High",
                "Description": "Wants listings under 550k",
                "What_Id": {"id": "1"},
                "$se_module": "Leads",
            }
        ]
    }
    assert sent_json(event)["data"][0]["Start_DateTime"] == "2026-05-03T15:00:00+00:00"
    assert sent_json(event)["data"][0]["Venue"] == "Office"


async def test_data_centre_selects_the_api_and_accounts_domains(http, router):
    token = router.post("https://accounts.zoho.eu/oauth/v2/token").respond(
        200,
        json={
            "access_token": "1000.new",
            "scope": "ZohoCRM.modules.ALL",
            "api_domain": "https://www.zohoapis.eu",
            "token_type": "Bearer",
            "expires_in": 3600,
        },
    )
    ping = router.get("https://www.zohoapis.eu/crm/v8/Leads").respond(204)
    expired = {**CREDENTIALS, "expires_at": str(int(NOW - 1))}
    await zoho(http, credentials=expired, settings={"data_centre": "EU"}).test_connection()
    assert token.calls.last.request.url.query == b""
    assert sent_form(token) == {
        "grant_type": "refresh_token",
        "client_id": "1000.CLIENT",
        "client_secret": "client-secret",
        "refresh_token": "1000.refresh-secret",
    }
    assert ping.calls.last.request.headers["Authorization"] == "Zoho-oauthtoken 1000.new"
    assert dict(ping.calls.last.request.url.params) == {"fields": "Last_Name", "per_page": "1"}


async def test_invalid_token_refreshes_reports_and_retries(http, router):
    router.post("https://accounts.zoho.com/oauth/v2/token").respond(
        200,
        json={
            "access_token": "1000.new",
            "api_domain": "https://www.zohoapis.com",
            "token_type": "Bearer",
            "expires_in": 3600,
        },
    )
    route = router.post(f"{API}/Tasks").mock(
        side_effect=[httpx.Response(401, json=INVALID_TOKEN), httpx.Response(201, json=_written("6002"))]
    )
    stored = []

    async def store(credentials):
        stored.append(dict(credentials))

    assert await zoho(http, on_credentials_refreshed=store).create_task(TASK, contact_id="1") == "6002"
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Zoho-oauthtoken 1000.old",
        "Zoho-oauthtoken 1000.new",
    ]
    assert stored == [
        {
            **CREDENTIALS,
            "access_token": "1000.new",
            "api_domain": "https://www.zohoapis.com",
            "expires_at": str(int(NOW + 3600)),
        }
    ]


async def test_refresh_answering_error_with_200_is_an_auth_error(http, router):
    router.post("https://accounts.zoho.com/oauth/v2/token").respond(200, json={"error": "invalid_code"})
    router.post(f"{API}/Tasks").respond(401, json=INVALID_TOKEN)
    with pytest.raises(CRMAuthError, match="invalid_code"):
        await zoho(http).create_task(TASK, contact_id="1")


async def test_scope_mismatch_does_not_refresh(http, router):
    token = router.post("https://accounts.zoho.com/oauth/v2/token").respond(200, json={"access_token": "x"})
    router.post(f"{API}/Tasks").respond(
        401, json={"code": "OAUTH_SCOPE_MISMATCH", "details": {}, "message": "invalid oauth scope", "status": "error"}
    )
    with pytest.raises(CRMAuthError, match="invalid oauth scope"):
        await zoho(http).create_task(TASK, contact_id="1")
    assert token.call_count == 0


async def test_429_is_retryable_with_retry_after(http, router):
    router.post(f"{API}/Tasks").respond(
        429,
        json={"code": "TOO_MANY_REQUESTS", "details": {}, "message": "concurrency limit exceeded", "status": "error"},
        headers={"Retry-After": "2"},
    )
    with pytest.raises(RetryableCRMError) as caught:
        await zoho(http).create_task(TASK, contact_id="1")
    assert (caught.value.retry_after, caught.value.vendor_code) == (2.0, "TOO_MANY_REQUESTS")


def test_unknown_data_centre_fails_at_build(http):
    with pytest.raises(CRMConfigError, match="unknown data centre 'XX'"):
        zoho(http, settings={"data_centre": "XX"})
