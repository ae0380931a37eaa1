"""Salesforce: Lead upsert by external id, Task calls, INVALID_SESSION_ID refresh, error classification."""

from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from crm_adapters.errors import (
    CRMAuthError,
    CRMConfigError,
    CRMQuotaExhaustedError,
    PermanentCRMError,
    RetryableCRMError,
)
from crm_adapters.factory import build_adapter
from crm_adapters.interfaces import CRMAdapter

from .samples import APPOINTMENT, CALL, CONTACT, PHONE_ONLY, TASK, clock, sent_form, sent_json

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v66.0"
CREDENTIALS = {
    "access_token": "00D-old!AQ",
    "instance_url": INSTANCE,
    "refresh_token": "refresh-secret",
    "client_id": "client-id",
    "client_secret": "client-secret",
}
EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def salesforce(http: httpx.AsyncClient, credentials: Mapping[str, str] = CREDENTIALS, **options: Any) -> CRMAdapter:
    return build_adapter("salesforce", credentials=credentials, http=http, clock=clock, **options)


async def test_upsert_is_a_patch_to_the_external_id_field(http, router):
    route = router.patch(f"{DATA}/sobjects/Lead/Seiketsu_Lead_Id__c/lead-42").respond(
        201, json={"id": "00Q5e000001", "success": True, "errors": [], "created": True}
    )
    adapter = salesforce(http, field_mapping={"budget": "Budget__c", "intent": "Buy_Sell__c"})
    assert await adapter.upsert_contact(CONTACT) == "00Q5e000001"
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer 00D-old!AQ"
    assert sent_json(route) == {
        "FirstName": "Jane",
        "LastName": "Doe",
        "Email": "jane@example.com",
        "Phone": "+15551234567",
        "LeadSource": "AI Voice Agent",
        "Buy_Sell__c": "buy",
        "Budget__c": 550000,
        "Company": "Jane Doe",
    }


async def test_upsert_update_answers_200_with_the_id(http, router):
    router.patch(f"{DATA}/sobjects/Lead/Seiketsu_Lead_Id__c/lead-43").respond(
        200, json={"id": "00Q5e000002", "success": True, "errors": [], "created": False}
    )
    assert (
        await salesforce(http, settings={"default_company": "Individual"}).upsert_contact(PHONE_ONLY) == "00Q5e000002"
    )


async def test_upsert_placeholder_name_and_company_for_a_phone_only_lead(http, router):
    route = router.patch(f"{DATA}/sobjects/Lead/Seiketsu_Lead_Id__c/lead-43").respond(
        201, json={"id": "00Q1", "success": True, "errors": [], "created": True}
    )
    await salesforce(http).upsert_contact(PHONE_ONLY)
    assert sent_json(route) == {"Phone": "+15557654321", "LastName": "Unknown", "Company": "+15557654321"}


async def test_upsert_answered_with_204_reads_the_id_back(http, router):
    path = f"{DATA}/sobjects/Lead/Seiketsu_Lead_Id__c/lead-42"
    router.patch(path).respond(204)
    read = router.get(path, params={"fields": "Id"}).respond(
        200, json={"attributes": {"type": "Lead"}, "Id": "00Q5e000003"}
    )
    assert await salesforce(http).upsert_contact(CONTACT) == "00Q5e000003"
    assert read.call_count == 1


async def test_external_id_matching_several_records_is_permanent(http, router):
    router.patch(f"{DATA}/sobjects/Lead/Seiketsu_Lead_Id__c/lead-42").respond(
        300, json=["/services/data/v66.0/sobjects/Lead/00Q1", "/services/data/v66.0/sobjects/Lead/00Q2"]
    )
    with pytest.raises(PermanentCRMError, match="more than one record") as caught:
        await salesforce(http).upsert_contact(CONTACT)
    assert caught.value.status == 300


async def test_external_id_value_is_url_encoded(http, router):
    route = router.patch(f"{DATA}/sobjects/Lead/Seiketsu_Lead_Id__c/a%2Fb%20c").respond(
        201, json={"id": "00Q9", "success": True, "errors": [], "created": True}
    )
    await salesforce(http).upsert_contact(CONTACT.__class__(lead_id="a/b c", phone="+15551234567"))
    assert route.call_count == 1


async def test_log_call_creates_a_call_task_when_the_call_id_is_new(http, router):
    query = router.get(f"{DATA}/query").respond(200, json={"totalSize": 0, "done": True, "records": []})
    create = router.post(f"{DATA}/sobjects/Task").respond(201, json={"id": "00T1", "success": True, "errors": []})
    adapter = salesforce(http, settings={"owner_id": "005xx"})
    assert await adapter.log_call(CALL, contact_id="00Q5e000001") == "00T1"
    assert query.calls.last.request.url.params["q"] == "SELECT Id FROM Task WHERE CallObject = 'call-7f3a' LIMIT 1"
    body = sent_json(create)
    description = body.pop("Description")
    assert description.startswith("Buyer relocating to Austin.\nOutcome: connected\n")
    assert "Recording: https://recordings.example.com/abc.mp3" in description
    assert body == {
        "Subject": "AI voice agent call",
        "TaskSubtype": "Call",
        "Status": "Completed",
        "Priority": "Normal",
        "WhoId": "00Q5e000001",
        "ActivityDate": "2026-05-01",
        "CallType": "Outbound",
        "CallDurationInSeconds": 185,
        "CallObject": "call-7f3a",
        "CallDisposition": "Connected",
        "OwnerId": "005xx",
    }


async def test_log_call_returns_the_task_already_logged_for_the_call_id(http, router):
    router.get(f"{DATA}/query").respond(
        200,
        json={"totalSize": 1, "done": True, "records": [{"attributes": {"type": "Task"}, "Id": "00T-earlier"}]},
    )
    create = router.post(f"{DATA}/sobjects/Task").respond(201, json={"id": "00T2", "success": True, "errors": []})
    assert await salesforce(http).log_call(CALL, contact_id="00Q1") == "00T-earlier"
    assert create.call_count == 0


async def test_find_contact_by_email_queries_leads_then_contacts(http, router):
    query = router.get(f"{DATA}/query").mock(
        side_effect=[
            httpx.Response(200, json={"totalSize": 0, "done": True, "records": []}),
            httpx.Response(
                200,
                json={
                    "totalSize": 1,
                    "done": True,
                    "records": [{"Id": "0035e01", "Name": "O'Neil", "Email": "o'neil@example.com", "Phone": None}],
                },
            ),
        ]
    )
    match = await salesforce(http).find_contact(email="o'neil@example.com")
    assert match is not None and (match.id, match.name) == ("0035e01", "O'Neil")
    assert [call.request.url.params["q"] for call in query.calls] == [
        "SELECT Id, Name, Email, Phone FROM Lead WHERE Email = 'o\\'neil@example.com' AND IsConverted = false LIMIT 1",
        "SELECT Id, Name, Email, Phone FROM Contact WHERE Email = 'o\\'neil@example.com' LIMIT 1",
    ]


async def test_find_contact_by_phone_searches_phone_fields_with_national_digits(http, router):
    search = router.get(f"{DATA}/search/").respond(
        200,
        json={
            "searchRecords": [
                {
                    "attributes": {"type": "Lead", "url": "/services/data/v66.0/sobjects/Lead/00Q7"},
                    "Id": "00Q7",
                    "Name": "Jane Doe",
                    "Phone": "(555) 123-4567",
                }
            ]
        },
    )
    match = await salesforce(http).find_contact(phone="+15551234567")
    assert match is not None and (match.id, match.phone) == ("00Q7", "(555) 123-4567")
    assert search.calls.last.request.url.params["q"] == (
        "FIND {5551234567} IN PHONE FIELDS RETURNING Lead(Id, Name, Email, Phone WHERE IsConverted = false LIMIT 1), "
        "Contact(Id, Name, Email, Phone LIMIT 1)"
    )


async def test_create_task_and_event(http, router):
    created = router.post(f"{DATA}/sobjects/Task").respond(201, json={"id": "00T3", "success": True, "errors": []})
    event = router.post(f"{DATA}/sobjects/Event").respond(201, json={"id": "00U1", "success": True, "errors": []})
    adapter = salesforce(http)
    assert await adapter.create_task(TASK, contact_id="00Q1") == "00T3"
    assert await adapter.create_appointment(APPOINTMENT, contact_id="00Q1") == "00U1"
    assert sent_json(created) == {
        "Subject": "Call back Jane [sk-7afaa346b4bf]",
        "Status": "Not Started",
        "Priority": "Normal",
        "WhoId": "00Q1",
        "ActivityDate": "2026-05-02",
        "IsReminderSet": True,
        "ReminderDateTime": "2026-05-02T15:00:00Z",
        "Description": "Wants listings under 550k",
    }
    assert sent_json(event) == {
        "Subject": "Buyer consult [sk-37998b609f47]",
        "StartDateTime": "2026-05-03T15:00:00Z",
        "EndDateTime": "2026-05-03T15:30:00Z",
        "WhoId": "00Q1",
        "Description": "Booked by AI agent",
        "Location": "Office",
    }


# --- token refresh

TOKEN_ANSWER = {
    "access_token": "00D-new!AQ",
    "signature": "sig",
    "scope": "refresh_token api",
    "instance_url": "https://acme2.my.salesforce.com",
    "id": "https://login.salesforce.com/id/00D/005",
    "token_type": "Bearer",
    "issued_at": "1767225600000",
}


async def test_invalid_session_refreshes_reports_and_retries_once_at_the_new_instance(http, router):
    token = router.post("https://login.salesforce.com/services/oauth2/token").respond(200, json=TOKEN_ANSWER)
    old = router.post(f"{DATA}/sobjects/Task").respond(401, json=EXPIRED)
    new = router.post("https://acme2.my.salesforce.com/services/data/v66.0/sobjects/Task").respond(
        201, json={"id": "00T9", "success": True, "errors": []}
    )
    stored = []

    async def store(credentials):
        stored.append(dict(credentials))

    adapter = salesforce(http, on_credentials_refreshed=store)
    assert await adapter.create_task(TASK, contact_id="00Q1") == "00T9"
    assert sent_form(token) == {
        "grant_type": "refresh_token",
        "client_id": "client-id",
        "client_secret": "client-secret",
        "refresh_token": "refresh-secret",
    }
    assert old.call_count == 1
    assert new.calls.last.request.headers["Authorization"] == "Bearer 00D-new!AQ"
    assert sent_json(new) == sent_json(old)
    assert stored == [{**CREDENTIALS, "access_token": "00D-new!AQ", "instance_url": "https://acme2.my.salesforce.com"}]


async def test_a_second_invalid_session_is_not_retried_again(http, router):
    token = router.post("https://login.salesforce.com/services/oauth2/token").respond(
        200, json={**TOKEN_ANSWER, "instance_url": INSTANCE}
    )
    task = router.post(f"{DATA}/sobjects/Task").respond(401, json=EXPIRED)
    with pytest.raises(CRMAuthError, match="Session expired or invalid") as caught:
        await salesforce(http).create_task(TASK, contact_id="00Q1")
    assert caught.value.vendor_code == "INVALID_SESSION_ID"
    assert (token.call_count, task.call_count) == (1, 2)


async def test_rotated_refresh_token_is_reported(http, router):
    router.post("https://test.salesforce.com/services/oauth2/token").respond(
        200, json={**TOKEN_ANSWER, "refresh_token": "rotated"}
    )
    router.get(url__regex=r".*/sobjects/Lead/describe").mock(
        side_effect=[
            httpx.Response(401, json=EXPIRED),
            httpx.Response(200, json={"name": "Lead", "fields": [{"name": "Seiketsu_Lead_Id__c", "externalId": True}]}),
        ]
    )
    stored = []

    async def store(credentials):
        stored.append(dict(credentials))

    adapter = salesforce(http, settings={"login_url": "https://test.salesforce.com"}, on_credentials_refreshed=store)
    await adapter.test_connection()
    assert stored[0]["refresh_token"] == "rotated"


async def test_refresh_refused_is_an_auth_error(http, router):
    router.post("https://login.salesforce.com/services/oauth2/token").respond(
        400, json={"error": "invalid_grant", "error_description": "expired access/refresh token"}
    )
    router.post(f"{DATA}/sobjects/Task").respond(401, json=EXPIRED)
    with pytest.raises(CRMAuthError, match="expired access/refresh token") as caught:
        await salesforce(http).create_task(TASK, contact_id="00Q1")
    assert caught.value.vendor_code == "invalid_grant"


async def test_a_401_other_than_invalid_session_does_not_refresh(http, router):
    token = router.post("https://login.salesforce.com/services/oauth2/token").respond(200, json=TOKEN_ANSWER)
    router.post(f"{DATA}/sobjects/Task").respond(
        401, json=[{"message": "This session is not valid for use with the REST API", "errorCode": "API_DISABLED"}]
    )
    with pytest.raises(CRMAuthError):
        await salesforce(http).create_task(TASK, contact_id="00Q1")
    assert token.call_count == 0


# --- errors and connection test


async def test_request_limit_exceeded_is_quota_exhausted(http, router):
    router.post(f"{DATA}/sobjects/Task").respond(
        403, json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    )
    with pytest.raises(CRMQuotaExhaustedError, match="TotalRequests Limit exceeded"):
        await salesforce(http).create_task(TASK, contact_id="00Q1")


async def test_validation_error_is_permanent(http, router):
    router.patch(f"{DATA}/sobjects/Lead/Seiketsu_Lead_Id__c/lead-42").respond(
        400,
        json=[
            {
                "message": "Budget: value not of required type: buy",
                "errorCode": "INVALID_TYPE_ON_FIELD_IN_RECORD",
                "fields": ["Budget__c"],
            }
        ],
    )
    with pytest.raises(PermanentCRMError, match="value not of required type") as caught:
        await salesforce(http).upsert_contact(CONTACT)
    assert caught.value.vendor_code == "INVALID_TYPE_ON_FIELD_IN_RECORD"


async def test_503_is_retryable(http, router):
    router.post(f"{DATA}/sobjects/Task").respond(
        503, json=[{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
    )
    with pytest.raises(RetryableCRMError):
        await salesforce(http).create_task(TASK, contact_id="00Q1")


async def test_connection_test_requires_the_external_id_field(http, router):
    router.get(f"{DATA}/sobjects/Lead/describe").respond(
        200, json={"name": "Lead", "fields": [{"name": "Seiketsu_Lead_Id__c", "externalId": False}]}
    )
    with pytest.raises(CRMConfigError, match="no External ID field Seiketsu_Lead_Id__c"):
        await salesforce(http).test_connection()


def test_instance_url_is_required(http):
    with pytest.raises(CRMConfigError, match="instance_url"):
        salesforce(http, credentials={"access_token": "t"})


def test_lead_id_cannot_be_unmapped(http):
    with pytest.raises(CRMConfigError, match="External ID"):
        salesforce(http, field_mapping={"lead_id": None})


async def test_a_refreshed_instance_url_off_salesforce_is_never_called(http, router):
    router.post("https://login.salesforce.com/services/oauth2/token").respond(
        200, json={**TOKEN_ANSWER, "instance_url": "https://attacker.example"}
    )
    router.post(f"{DATA}/sobjects/Task").respond(401, json=EXPIRED)
    with pytest.raises(CRMConfigError) as caught:
        await salesforce(http).create_task(TASK, contact_id="00Q1")
    assert caught.value.field == "credentials.instance_url"
    assert [call.request.url.host for call in router.calls] == ["acme.my.salesforce.com", "login.salesforce.com"]
