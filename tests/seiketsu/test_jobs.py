"""The job outbox with a real RQ worker on a real Redis, and the embedded in-process runner on SQLite."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq import Queue

from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.embedded import InProcessDispatcher, InProcessWorker
from seiketsu.jobs.models import Job, JobStatus
from seiketsu.jobs.registry import JobContext, PermanentFailure, RetryLater
from seiketsu.jobs.rq_backend import QUEUE_NAME, RQDispatcher, RQWorker
from seiketsu.jobs.runner import JobRunner
from seiketsu.tenancy.scoping import system_session, tenant_session
from tests.factories import OrgFixture, login, make_org


def _enqueue(container: Container, org: OrgFixture, name: str, **kwargs: object) -> uuid.UUID:
    with tenant_session(container.sessions, org.id) as session:
        job = container.jobs.enqueue(session, name, {"n": 1}, **kwargs)  # type: ignore[arg-type]
        session.commit()
        return job.id


def _job(container: Container, job_id: uuid.UUID) -> Job:
    with system_session(container.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _burst(container: Container) -> None:
    assert isinstance(container.jobs.dispatcher, RQDispatcher)
    RQWorker(JobRunner(container, container.runner_config), container.jobs.dispatcher).work(burst=True)


def _flaky(failures: int) -> tuple[Callable[[JobContext], None], list[int]]:
    calls: list[int] = []

    def handler(context: JobContext) -> None:
        calls.append(context.attempt)
        if len(calls) <= failures:
            raise ConnectionError(f"downstream unavailable (call {len(calls)})")

    return handler, calls


def test_a_failing_job_is_retried_until_it_succeeds(container: Container, redis_client: Redis) -> None:
    org = make_org(container, "acme")
    handler, calls = _flaky(failures=2)
    container.jobs.registry.register("test.flaky", handler)
    job_id = _enqueue(container, org, "test.flaky")
    assert Queue(QUEUE_NAME, connection=redis_client).count == 1  # dispatched after commit
    _burst(container)
    job = _job(container, job_id)
    assert calls == [1, 2, 3]
    assert job.status is JobStatus.SUCCEEDED and job.attempts == 3 and job.last_error is None


def test_a_job_that_keeps_failing_is_dead_lettered_visible_and_can_be_redriven(
    client: TestClient, container: Container
) -> None:
    org = make_org(container, "acme")
    handler, calls = _flaky(failures=3)
    container.jobs.registry.register("test.flaky", handler)
    job_id = _enqueue(container, org, "test.flaky", max_attempts=3)
    _burst(container)
    assert _job(container, job_id).status is JobStatus.DEAD
    assert calls == [1, 2, 3]

    headers = login(client, org)
    dead = client.get("/api/v1/jobs?status=dead", headers=headers).json()["items"]
    assert [item["id"] for item in dead] == [str(job_id)]
    assert "downstream unavailable (call 3)" in dead[0]["lastError"]

    response = client.post(f"/api/v1/jobs/{job_id}/redrive", headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "pending"
    assert client.post(f"/api/v1/jobs/{job_id}/redrive", headers=headers).status_code == 409
    _burst(container)
    job = _job(container, job_id)
    assert job.status is JobStatus.SUCCEEDED and job.attempts == 1


def test_permanent_failures_die_at_once_and_retry_later_waits(container: Container) -> None:
    org = make_org(container, "acme")

    def permanent(context: JobContext) -> None:
        raise PermanentFailure("record rejected: bad email")

    def later(context: JobContext) -> None:
        raise RetryLater("rate limited", delay=3600)

    container.jobs.registry.register("test.permanent", permanent)
    container.jobs.registry.register("test.later", later)
    dead_id = _enqueue(container, org, "test.permanent")
    later_id = _enqueue(container, org, "test.later")
    _burst(container)
    dead = _job(container, dead_id)
    assert dead.status is JobStatus.DEAD and dead.attempts == 1 and "bad email" in (dead.last_error or "")
    waiting = _job(container, later_id)
    assert waiting.status is JobStatus.PENDING and waiting.attempts == 1
    assert waiting.run_at > utcnow() + timedelta(minutes=59)


def test_a_rolled_back_transaction_enqueues_nothing(container: Container, redis_client: Redis) -> None:
    org = make_org(container, "acme")
    container.jobs.registry.register("test.noop", lambda context: None)
    with tenant_session(container.sessions, org.id) as session:
        container.jobs.enqueue(session, "test.noop", {})
        session.rollback()
    with system_session(container.sessions) as session:
        assert session.query(Job).count() == 0
    assert Queue(QUEUE_NAME, connection=redis_client).count == 0


def test_jobs_survive_a_lost_queue_and_a_killed_worker(container: Container, redis_client: Redis) -> None:
    org = make_org(container, "acme")
    ran: list[uuid.UUID] = []
    container.jobs.registry.register("test.record", lambda context: ran.append(context.job_id))
    queued = _enqueue(container, org, "test.record")
    redis_client.flushdb()  # Redis restarted without persistence: the RQ queue is gone, the outbox is not
    # A worker was killed mid-job: the row is left running, its lease expired.
    crashed = _enqueue(container, org, "test.record")
    with system_session(container.sessions) as session:
        row = session.get(Job, crashed)
        assert row is not None
        row.status = JobStatus.RUNNING
        row.attempts = 1
        row.locked_until = utcnow() - timedelta(seconds=1)
        session.commit()
    _burst(container)
    assert sorted(ran) == sorted([queued, crashed])
    assert _job(container, crashed).status is JobStatus.SUCCEEDED
    assert _job(container, crashed).attempts == 2


def test_a_job_is_never_run_by_two_workers(container: Container) -> None:
    org = make_org(container, "acme")
    ran: list[uuid.UUID] = []
    container.jobs.registry.register("test.record", lambda context: ran.append(context.job_id))
    job_id = _enqueue(container, org, "test.record")
    runner = JobRunner(container, container.runner_config)
    assert runner.run(job_id) is JobStatus.SUCCEEDED
    assert runner.run(job_id) is None  # a duplicate delivery finds nothing to claim
    assert ran == [job_id]


def test_embedded_mode_runs_jobs_in_process_and_picks_up_after_a_restart(sqlite_container: Container) -> None:
    container = sqlite_container
    assert isinstance(container.jobs.dispatcher, InProcessDispatcher)
    org = make_org(container, "acme")
    ran: list[uuid.UUID] = []
    container.jobs.registry.register("test.record", lambda context: ran.append(context.job_id))

    left_behind = _enqueue(container, org, "test.record")  # committed while no worker runs: a crash
    worker = InProcessWorker(JobRunner(container, container.runner_config), container.jobs.dispatcher, poll_interval=5)
    worker.start()
    try:
        fresh = _enqueue(container, org, "test.record")
        deadline = time.monotonic() + 10
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
    assert sorted(ran) == sorted([left_behind, fresh])
    assert _job(container, fresh).status is JobStatus.SUCCEEDED


def test_unknown_job_names_are_refused_at_enqueue(container: Container) -> None:
    org = make_org(container, "acme")
    with pytest.raises(ValueError, match="no job handler"):
        _enqueue(container, org, "test.unknown")
