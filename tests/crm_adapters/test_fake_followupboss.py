"""The local Follow Up Boss fake, driven through the real adapter over httpx.ASGITransport."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from crm_adapters.errors import CRMAuthError, RetryableCRMError
from crm_adapters.factory import build_adapter
from crm_adapters.fake_followupboss import FakeFollowUpBoss
from crm_adapters.fake_server import RateLimit
from crm_adapters.followupboss import basic_auth
from crm_adapters.interfaces import CRMAdapter

from .samples import APPOINTMENT, CALL, CONTACT, TASK

BASE = "http://fake-fub"
SINCE = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def fake(clock) -> FakeFollowUpBoss:
    return FakeFollowUpBoss(clock=clock)


@pytest.fixture
async def client(fake) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), base_url=BASE) as http:
        yield http


def adapter(client: httpx.AsyncClient, credentials: dict[str, str]) -> CRMAdapter:
    return build_adapter("followupboss", credentials=credentials, http=client, base_url=BASE)


async def test_leads_calls_tasks_and_appointments_land_once_and_are_found_again(client, fake):
    crm = adapter(client, fake.credentials)
    person_id = await crm.upsert_contact(CONTACT)
    assert await crm.upsert_contact(CONTACT) == person_id  # events deduplicate on email and phone
    match = await crm.find_contact(email=CONTACT.email)
    assert match is not None and match.id == person_id
    call_id = await crm.log_call(CALL, contact_id=person_id)
    task_id = await crm.create_task(TASK, contact_id=person_id)
    appointment_id = await crm.create_appointment(APPOINTMENT, contact_id=person_id)
    await crm.test_connection()
    # a repeat after a lost answer lists the person's records and finds each by our marker
    assert await crm.log_call(CALL, contact_id=person_id, recheck_since=SINCE) == call_id
    assert await crm.create_task(TASK, contact_id=person_id, recheck_since=SINCE) == task_id
    assert await crm.create_appointment(APPOINTMENT, contact_id=person_id, recheck_since=SINCE) == appointment_id
    assert [collection for collection, _ in fake.created] == ["people", "calls", "tasks", "appointments"]
    assert fake.duplicates() == 0
    await crm.create_task(TASK, contact_id=person_id)  # a blind repeat is what duplicates() counts
    assert fake.duplicates() == 1


async def test_wrong_keys_are_refused(client, fake):
    with pytest.raises(CRMAuthError):
        await adapter(client, {**fake.credentials, "system_key": "wrong"}).test_connection()


async def test_the_sliding_window_answers_429_with_retry_after_and_fubs_headers(client, fake, clock):
    fake.rate_limit = RateLimit(max_requests=2, window_seconds=10, send_retry_after=True)
    crm = adapter(client, fake.credentials)
    await crm.test_connection()
    answered = await client.get("/v1/identity", headers=_headers(fake))
    assert answered.headers["X-RateLimit-Remaining"] == "0" and answered.headers["X-RateLimit-Context"] == "global"
    with pytest.raises(RetryableCRMError) as refused:
        await crm.test_connection()
    assert refused.value.status == 429 and refused.value.retry_after == 10
    clock.now += 10
    await crm.test_connection()


def _headers(fake: FakeFollowUpBoss) -> dict[str, str]:
    return {"Authorization": basic_auth(fake.api_key), "X-System-Key": fake.system_key}
