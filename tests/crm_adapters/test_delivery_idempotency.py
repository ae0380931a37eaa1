"""A worker dying at any point of a delivery: the re-run resumes after the last recorded step, never repeats one."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest

from crm_adapters.delivery_store import Busy, Claim, DeliveryStore
from crm_adapters.fake_server import FakeHubSpot
from crm_adapters.jobs import fan_out
from crm_adapters.models import DeliveryStatus, RemoteKind
from crm_adapters.wiring import register
from seiketsu.container import Container
from seiketsu.jobs.registry import JobContext
from tests.factories import make_org

from .delivery_support import (
    IDEMPOTENT_FIELDS,
    UNIQUE_PROPERTIES,
    WorkerKilled,
    attempts,
    completed_event,
    deliveries,
    expire_leases,
    make_integration,
    make_leads,
    publish,
    run_jobs,
    use_http,
)
from .test_delivery_jobs import one_burst


class Interrupting(httpx.AsyncBaseTransport):
    """Passes requests to the fake, and raises ``error`` before or after (the write done) the n-th one."""

    def __init__(self, app: object, *, error: BaseException, before: int | None = None, after: int | None = None):
        self._inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self._error = error
        self._before = before
        self._after = after
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        number = len(self.sent) + 1
        if number == self._before:
            self._before = None
            raise self._error
        path = request.url.path.split("/2026-03")[-1]
        self.sent.append(request.method + " " + re.sub(r"/\d+", "/{id}", path))
        response = await self._inner.handle_async_request(request)
        if number == self._after:
            self._after = None
            await response.aread()
            raise self._error
        return response

    async def aclose(self) -> None:
        """Shared by every client the runtime opens; it outlives them."""


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot(unique_properties=UNIQUE_PROPERTIES)


def _deliver_with_a_death(container: Container, fake: FakeHubSpot, transport: Interrupting, *, fields=None):
    register(container)
    use_http(container, lambda: httpx.AsyncClient(transport=transport))
    org = make_org(container, "acme")
    make_integration(container, org, credentials={"access_token": fake.access_token}, field_mapping=fields)
    [lead] = make_leads(container, org, 1)
    publish(container, org, [completed_event(lead, outcome="qualified")])
    one_burst(container)  # the worker dies in here; its job and delivery stay claimed
    expire_leases(container)  # until their leases lapse
    run_jobs(container)
    [delivery] = deliveries(container, org)
    return org, delivery


PLAIN_REQUESTS = ["POST /contacts/batch/upsert", "POST /calls", "POST /tasks"]


@pytest.mark.parametrize("dies_before", [1, 2, 3])
def test_a_worker_killed_between_steps_leaves_the_next_run_only_what_is_missing(container, fake, dies_before):
    """No unique call or task property in the CRM: only our record of the completed steps prevents repeats."""
    transport = Interrupting(fake.app, error=WorkerKilled(), before=dies_before)
    org, delivery = _deliver_with_a_death(container, fake, transport)
    assert transport.sent == PLAIN_REQUESTS  # each request once, across both runs
    assert [o.object_type for o in fake.created] == ["contacts", "calls", "tasks"]
    assert delivery.status is DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    runs = [(a.attempt, a.step) for a in attempts(container, org, delivery.id)]
    done_first = PLAIN_REQUESTS[: dies_before - 1]
    assert runs == [(1, s) for s in ("contact", "call", "task")[: len(done_first)]] + [
        (2, s) for s in ("contact", "call", "task")[len(done_first) :]
    ]


IDEMPOTENT_REQUESTS = [
    "POST /contacts/batch/upsert",
    "POST /calls/batch/upsert",
    "PUT /calls/{id}/associations/default/contacts/{id}",
    "POST /tasks/batch/upsert",
    "PUT /tasks/{id}/associations/default/contacts/{id}",
]
STEP_STARTS = {1: 1, 2: 2, 3: 2, 4: 4, 5: 4}
"""Request number -> the first request of its step (contact: 1; call: 2-3; task: 4-5)."""


@pytest.mark.parametrize("dies_after", [1, 2, 3, 4, 5])
def test_a_worker_killed_after_the_crm_wrote_but_before_we_recorded_it_upserts_the_same_record(
    container, fake, dies_after
):
    """The answer is lost with the worker: the re-run repeats that step, and the CRM's unique ids absorb it."""
    transport = Interrupting(fake.app, error=WorkerKilled(), after=dies_after)
    org, delivery = _deliver_with_a_death(container, fake, transport, fields=IDEMPOTENT_FIELDS)
    assert [o.object_type for o in fake.created] == ["contacts", "calls", "tasks"]
    [contact] = fake.objects["contacts"].values()
    for object_type in ("calls", "tasks"):
        [record] = fake.objects[object_type].values()
        assert record.associations == {("contacts", contact.id)}
    assert delivery.status is DeliveryStatus.SUCCEEDED
    # the interrupted step is sent again from its start, the steps recorded before it are not
    resumed_at = STEP_STARTS[dies_after]
    assert transport.sent == IDEMPOTENT_REQUESTS[:dies_after] + IDEMPOTENT_REQUESTS[resumed_at - 1 :]


def test_an_unexpected_error_between_steps_is_retried_by_the_queue(container, fake):
    transport = Interrupting(fake.app, error=RuntimeError("database hiccup"), before=3)
    register(container)
    use_http(container, lambda: httpx.AsyncClient(transport=transport))
    org = make_org(container, "acme")
    make_integration(container, org, credentials={"access_token": fake.access_token})
    [lead] = make_leads(container, org, 1)
    publish(container, org, [completed_event(lead, outcome="qualified")])
    run_jobs(container)  # no lease to wait out: the failed run released it, and backoff is 0 in tests
    assert transport.sent == PLAIN_REQUESTS
    [delivery] = deliveries(container, org)
    assert delivery.status is DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    runs = [(a.attempt, a.step) for a in attempts(container, org, delivery.id)]
    assert runs == [(1, "contact"), (1, "call"), (2, "task")]


def test_a_second_worker_cannot_take_a_live_delivery_and_a_presumed_dead_one_is_fenced_off(container, fake):
    register(container)
    org = make_org(container, "acme")
    make_integration(container, org, credentials={"access_token": fake.access_token})
    [lead] = make_leads(container, org, 1)
    fan_out(JobContext(container, uuid.uuid4(), org.id, 1, completed_event(lead)))
    [delivery] = deliveries(container, org)
    store = DeliveryStore(container.sessions, org.id, lease=timedelta(minutes=1))
    first = store.claim(delivery.id)
    assert isinstance(first, Claim) and first.attempt == 1
    busy = store.claim(delivery.id)
    assert isinstance(busy, Busy) and 55 < busy.retry_in <= 60

    expire_leases(container)  # the first worker is presumed dead...
    second = store.claim(delivery.id)
    assert isinstance(second, Claim) and second.attempt == 2 and second.token != first.token
    # ...but was only slow: what it did is still recorded, and it learns that it must stop
    assert not store.record_step(first, RemoteKind.CONTACT, local_id=str(lead.id), remote_id="77", http_status=200,
                                 duration_ms=5)  # fmt: skip
    assert not store.settle(first, DeliveryStatus.SUCCEEDED)
    third = DeliveryStore(container.sessions, org.id, lease=timedelta(minutes=1))
    assert store.record_step(second, RemoteKind.CALL, local_id="c", remote_id="78", http_status=201, duration_ms=5)
    assert store.settle(second, DeliveryStatus.SUCCEEDED)
    assert third.claim(delivery.id) is None  # settled: nothing left to claim
    [settled] = deliveries(container, org)
    assert settled.status is DeliveryStatus.SUCCEEDED and settled.contact_remote_id == "77"
