"""The local HubSpot fake, driven through the real HubSpot adapter over httpx.ASGITransport."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from crm_adapters.errors import CRMAuthError, PermanentCRMError, RetryableCRMError
from crm_adapters.factory import build_adapter
from crm_adapters.fake_server import FakeHubSpot, FaultPlan, RateLimit
from crm_adapters.interfaces import CRMAdapter

from .samples import APPOINTMENT, CALL, CONTACT, TASK

BASE = "http://fake-hubspot"
OBJECTS = f"{BASE}/crm/objects/2026-03"


@pytest.fixture
def fake(clock) -> FakeHubSpot:
    return FakeHubSpot(unique_properties={"contacts": ["email"], "calls": ["seiketsu_call_id"]}, clock=clock)


@pytest.fixture
async def client(fake) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), base_url=BASE) as http:
        yield http


def adapter(client: httpx.AsyncClient, fake: FakeHubSpot, **options) -> CRMAdapter:
    return build_adapter(
        "hubspot", credentials={"access_token": fake.access_token}, http=client, base_url=BASE, **options
    )


async def test_contact_call_task_and_meeting_land_in_the_fake(client, fake):
    crm = adapter(client, fake)
    contact_id = await crm.upsert_contact(CONTACT)
    assert await crm.upsert_contact(CONTACT) == contact_id
    match = await crm.find_contact(phone=CONTACT.phone)
    assert match is not None and match.id == contact_id and match.name == "Jane Doe"
    call_id = await crm.log_call(CALL, contact_id=contact_id)
    task_id = await crm.create_task(TASK, contact_id=contact_id)
    meeting_id = await crm.create_appointment(APPOINTMENT, contact_id=contact_id)
    await crm.test_connection()

    assert [(o.object_type, o.id) for o in fake.created] == [
        ("contacts", contact_id),
        ("calls", call_id),
        ("tasks", task_id),
        ("meetings", meeting_id),
    ]
    assert fake.objects["contacts"][contact_id].properties["email"] == "jane@example.com"
    call = fake.objects["calls"][call_id]
    assert call.properties["hs_call_duration"] == "185000"
    assert call.associations == {("contacts", contact_id)}
    assert fake.objects["tasks"][task_id].associations == {("contacts", contact_id)}


async def test_a_write_that_failed_after_taking_effect_is_not_duplicated_when_the_call_id_is_mapped(client, fake):
    crm = adapter(client, fake, field_mapping={"call_id": "seiketsu_call_id"})
    contact_id = await crm.upsert_contact(CONTACT)
    fake.faults = FaultPlan(server_error_after_write=1.0)
    with pytest.raises(RetryableCRMError) as caught:
        await crm.log_call(CALL, contact_id=contact_id)
    assert caught.value.status == 500
    fake.faults = FaultPlan()
    call_id = await crm.log_call(CALL, contact_id=contact_id)

    assert [stored.id for stored in fake.find("calls", seiketsu_call_id="call-7f3a")] == [call_id]
    assert [o.object_type for o in fake.created].count("calls") == 1
    assert fake.objects["calls"][call_id].associations == {("contacts", contact_id)}


async def test_without_an_external_id_the_fake_shows_the_duplicate(client, fake):
    crm = adapter(client, fake)
    contact_id = await crm.upsert_contact(CONTACT)
    fake.faults = FaultPlan(server_error_after_write=1.0)
    with pytest.raises(RetryableCRMError):
        await crm.log_call(CALL, contact_id=contact_id)
    fake.faults = FaultPlan()
    await crm.log_call(CALL, contact_id=contact_id)
    assert [o.object_type for o in fake.created].count("calls") == 2


async def test_rate_limit_answers_hubspots_429_until_the_window_rolls(client, fake, clock):
    fake.rate_limit = RateLimit(max_requests=3, window_seconds=10)
    remaining = []
    for _ in range(3):
        response = await client.get(f"{OBJECTS}/contacts", headers={"Authorization": f"Bearer {fake.access_token}"})
        assert response.status_code == 200
        remaining.append(response.headers["X-HubSpot-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    limited = await client.get(f"{OBJECTS}/contacts", headers={"Authorization": f"Bearer {fake.access_token}"})
    assert limited.status_code == 429
    body = limited.json()
    assert (body["status"], body["errorType"], body["policyName"]) == ("error", "RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert {"correlationId", "requestId"} <= set(body)
    assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "3"
    assert "Retry-After" not in limited.headers

    with pytest.raises(RetryableCRMError) as caught:
        await adapter(client, fake).test_connection()
    assert (caught.value.status, caught.value.retry_after) == (429, 10.0)

    clock.now += 10
    await adapter(client, fake).test_connection()
    assert fake.answered[429] == 2


async def test_rate_limit_can_tell_how_long_to_wait(client, fake, clock):
    fake.rate_limit = RateLimit(max_requests=1, window_seconds=10, send_retry_after=True)
    crm = adapter(client, fake)
    await crm.test_connection()
    clock.now += 2.5
    with pytest.raises(RetryableCRMError) as caught:
        await crm.test_connection()
    assert caught.value.retry_after == 8.0


async def test_injected_429_with_and_without_retry_after(client, fake):
    crm = adapter(client, fake)
    fake.faults = FaultPlan(rate_limited_with_retry_after=1.0, retry_after_seconds=2)
    with pytest.raises(RetryableCRMError) as with_header:
        await crm.upsert_contact(CONTACT)
    fake.faults = FaultPlan(rate_limited_without_retry_after=1.0)
    with pytest.raises(RetryableCRMError) as without_header:
        await crm.upsert_contact(CONTACT)
    assert (with_header.value.retry_after, with_header.value.vendor_code) == (2.0, "SECONDLY")
    assert without_header.value.retry_after is None
    assert fake.created == []


async def test_injected_500_before_the_write_changes_nothing(client, fake):
    fake.faults = FaultPlan(server_error=1.0)
    with pytest.raises(RetryableCRMError) as caught:
        await adapter(client, fake).upsert_contact(CONTACT)
    assert caught.value.status == 500
    assert fake.created == []


async def test_injected_slow_answer(client, fake):
    fake.faults = FaultPlan(slow=1.0, slow_seconds=0.2)
    started = time.monotonic()
    await adapter(client, fake).test_connection()
    assert time.monotonic() - started >= 0.2


async def test_a_seeded_mix_of_faults_is_reproducible(clock):
    plan = FaultPlan(
        rate_limited_with_retry_after=0.2, rate_limited_without_retry_after=0.1, server_error=0.2, slow=0.0
    )

    async def statuses() -> list[int]:
        fake = FakeHubSpot(faults=plan, seed=7, clock=clock)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), base_url=BASE) as http:
            headers = {"Authorization": f"Bearer {fake.access_token}"}
            return [(await http.get(f"{OBJECTS}/contacts", headers=headers)).status_code for _ in range(200)]

    first, second = await statuses(), await statuses()
    assert first == second
    assert 0.2 < first.count(429) / 200 < 0.45
    assert 0.1 < first.count(500) / 200 < 0.3
    assert first.count(200) + first.count(429) + first.count(500) == 200


async def test_wrong_token_is_rejected(client, fake):
    crm = build_adapter("hubspot", credentials={"access_token": "wrong"}, http=client, base_url=BASE)
    with pytest.raises(CRMAuthError) as caught:
        await crm.test_connection()
    assert caught.value.vendor_code == "INVALID_AUTHENTICATION"


async def test_duplicate_create_is_a_conflict_naming_the_existing_id(client, fake):
    headers = {"Authorization": f"Bearer {fake.access_token}"}
    body = {"properties": {"email": "jane@example.com"}}
    first = await client.post(f"{OBJECTS}/contacts", json=body, headers=headers)
    second = await client.post(f"{OBJECTS}/contacts", json=body, headers=headers)
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["message"] == f"Contact already exists. Existing ID: {first.json()['id']}"
    assert second.json()["category"] == "CONFLICT"


async def test_upsert_by_a_property_that_is_not_unique_is_rejected(client, fake):
    crm = adapter(client, fake, field_mapping={"lead_id": "not_unique"})
    with pytest.raises(PermanentCRMError, match="not_unique is not a unique property"):
        await crm.upsert_contact(CONTACT)


def test_fault_probabilities_must_add_up():
    with pytest.raises(ValueError, match="sum to at most 1"):
        FaultPlan(server_error=0.6, slow=0.5)


async def test_answers_are_counted_once_each(client, fake):
    crm = adapter(client, fake)
    contact_id = await crm.upsert_contact(CONTACT)
    fake.faults = FaultPlan(server_error_after_write=1.0)
    with pytest.raises(RetryableCRMError):
        await crm.create_task(TASK, contact_id=contact_id)
    assert dict(fake.answered) == {200: 1, 500: 1}
    assert [o.object_type for o in fake.created] == ["contacts", "tasks"]
