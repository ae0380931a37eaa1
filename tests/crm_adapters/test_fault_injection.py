"""1,000 call outcomes against a misbehaving CRM, with worker processes killed and Redis wiped part-way.

The fake HubSpot runs on a real socket and answers a random mix of 429 (with and without ``Retry-After``), 500
(before and after doing the write), answers slower than the client's timeout (the write still happens) and
successes. Two worker processes run the production worker loop; every few seconds one is SIGKILLed mid-job and
replaced, and once Redis is flushed (queue and request schedule lost). Every outcome must end up in the CRM
exactly once: one contact per lead, one call log per call, one task or meeting where the outcome calls for it.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from datetime import timedelta
from multiprocessing.process import BaseProcess

import pytest
import sqlalchemy as sa
from redis import Redis
from sqlmodel import col

from crm_adapters.fake_server import FakeHubSpot, FaultPlan
from crm_adapters.local_server import serve_locally
from crm_adapters.models import Delivery, DeliveryAttempt, DeliveryStatus
from crm_adapters.wiring import register
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.leads.models import Appointment
from seiketsu.tenancy.scoping import tenant_session
from tests.conftest import REDIS_URL
from tests.factories import make_org

from .delivery_support import (
    IDEMPOTENT_FIELDS,
    UNIQUE_PROPERTIES,
    completed_event,
    make_integration,
    make_leads,
    publish,
)
from .worker_process import run_worker

OUTCOMES = 1000
FAULTS = FaultPlan(
    rate_limited_with_retry_after=0.03,
    rate_limited_without_retry_after=0.03,
    server_error=0.03,
    server_error_after_write=0.03,
    slow=0.01,
    slow_seconds=0.6,
    retry_after_seconds=1,
)
WORKERS = 2
IN_FLIGHT = 80
BATCH = 40
"""Calls finish over time, not all at once: the outbox's sweeper re-dispatches a job queued longer than
``redispatch_after`` (as after a Redis restart), so a backlog far longer than that would flood the queue."""
KILL_AT = (0.1, 0.3, 0.5, 0.7, 0.85)
"""Progress (share of outcomes finished) at which a worker is SIGKILLed mid-job and replaced."""
FLUSH_AT = 0.6
DEADLINE = 480.0
"""About 80 s on an idle 2-core machine, 160-180 s on the shared one (CPU-bound: two jobs per outcome)."""


def _outcome(n: int) -> str:
    return ("qualified", "not_interested", "transferred", "voicemail", "appointment_set", "no_answer")[n % 6]


def _spawn(pg_url: str, crm_url: str) -> BaseProcess:
    # forkserver: a fresh process (no inherited connections or threads) forked from one that already imported
    # everything, so a replacement worker is up in milliseconds, as a supervisor's restart would be
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.crm_adapters.worker_process"])
    process = context.Process(target=run_worker, args=(pg_url, REDIS_URL, crm_url), daemon=True)
    process.start()
    return process


def _statuses(container: Container, org_id: object) -> Counter[DeliveryStatus]:
    with tenant_session(container.sessions, org_id) as session:  # type: ignore[arg-type]
        rows = session.execute(sa.select(col(Delivery.status), sa.func.count()).group_by(col(Delivery.status)))
        return Counter({DeliveryStatus(status): count for status, count in rows})


@pytest.mark.slow
@pytest.mark.timeout(DEADLINE + 60)
def test_every_outcome_lands_exactly_once_despite_faults_kills_and_a_redis_flush(
    container: Container, redis_client: Redis, pg_url: str
) -> None:
    register(container)
    fake = FakeHubSpot(unique_properties=UNIQUE_PROPERTIES, faults=FAULTS, seed=7)
    rng = random.Random(7)
    with serve_locally(fake.app) as url:
        org = make_org(container, "acme")
        make_integration(
            container,
            org,
            credentials={"access_token": fake.access_token},
            field_mapping=IDEMPOTENT_FIELDS,
        )
        leads = make_leads(container, org, OUTCOMES)
        events = []
        with tenant_session(container.sessions, org.id) as session:
            for n, lead in enumerate(leads):
                appointment_id = None
                if _outcome(n) == "appointment_set":
                    appointment = Appointment(lead_id=lead.id, starts_at=utcnow() + timedelta(days=3), timezone="UTC")
                    session.add(appointment)
                    appointment_id = str(appointment.id)
                events.append(completed_event(lead, outcome=_outcome(n), appointment_id=appointment_id))
            session.commit()

        workers = [_spawn(pg_url, url) for _ in range(WORKERS)]
        started = time.monotonic()
        published = kills = crashes = 0
        flushed = False
        try:
            while True:
                statuses = _statuses(container, org.id)
                finished = statuses[DeliveryStatus.SUCCEEDED] + statuses[DeliveryStatus.DEAD]
                if finished == OUTCOMES:
                    break
                if published < OUTCOMES and published - finished < IN_FLIGHT:
                    publish(container, org, events[published : published + BATCH])
                    published += len(events[published : published + BATCH])
                assert time.monotonic() - started < DEADLINE, f"unfinished after {DEADLINE} s: {statuses}"
                if not flushed and finished >= FLUSH_AT * OUTCOMES:
                    redis_client.flushdb()  # a Redis restart: the queue and the request schedule are gone
                    flushed = True
                if kills < len(KILL_AT) and finished >= KILL_AT[kills] * OUTCOMES:
                    victim = rng.randrange(len(workers))
                    os.kill(workers[victim].pid, signal.SIGKILL)  # type: ignore[arg-type]
                    workers[victim].join()
                    workers[victim] = _spawn(pg_url, url)
                    kills += 1
                for i, worker in enumerate(workers):
                    if not worker.is_alive():  # crashed on its own: a supervisor restarts it
                        crashes += 1
                        workers[i] = _spawn(pg_url, url)
                time.sleep(0.1)
        finally:
            for worker in workers:
                if worker.is_alive():
                    os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
                worker.join()
        elapsed = time.monotonic() - started

    assert _statuses(container, org.id) == Counter({DeliveryStatus.SUCCEEDED: OUTCOMES}), f"after {elapsed:.0f} s"
    contacts = fake.objects["contacts"].values()
    calls = fake.objects["calls"].values()
    assert Counter(c.properties["seiketsu_lead_id"] for c in contacts) == Counter({str(lead.id): 1 for lead in leads})
    assert Counter(c.properties["seiketsu_call_id"] for c in calls) == Counter({e["callId"]: 1 for e in events})
    with_task = [e for e in events if e["outcome"] in ("qualified", "transferred")]
    assert sorted(t.properties["seiketsu_task_id"] for t in fake.objects["tasks"].values()) == sorted(
        f"{e['callId']}:follow-up" for e in with_task
    )
    with_meeting = sorted(e["appointmentId"] for e in events if e["appointmentId"])
    assert sorted(m.properties["seiketsu_appointment_id"] for m in fake.objects["meetings"].values()) == with_meeting
    assert len(fake.created) == 2 * OUTCOMES + len(with_task) + len(with_meeting)
    contact_of_lead = {c.properties["seiketsu_lead_id"]: c.id for c in contacts}
    lead_of_call = {e["callId"]: e["leadId"] for e in events}
    for call in calls:
        assert call.associations == {("contacts", contact_of_lead[lead_of_call[call.properties["seiketsu_call_id"]]])}

    # the faults did happen
    assert fake.answered[429] > 40 and fake.answered[500] > 40
    with tenant_session(container.sessions, org.id) as session:
        timeouts = session.scalar(
            sa.select(sa.func.count())
            .select_from(DeliveryAttempt)
            .where(col(DeliveryAttempt.error).contains("timed out"))
        )
    assert timeouts and timeouts > 5
    assert kills == len(KILL_AT) and flushed
    print(f"\n{OUTCOMES} outcomes in {elapsed:.1f} s; answers {dict(fake.answered)}; "
          f"{timeouts} timeouts, {kills} kills, {crashes} crashes")  # fmt: skip
