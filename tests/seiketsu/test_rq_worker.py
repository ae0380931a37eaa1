"""The RQ worker's stops and its fallbacks, and job leases kept by heartbeat."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

from redis import Redis
from rq import Queue, SimpleWorker

from seiketsu.container import Container, build_container
from seiketsu.jobs.models import Job, JobStatus
from seiketsu.jobs.registry import JobContext
from seiketsu.jobs.rq_backend import QUEUE_NAME, OutboxWorker, RQDispatcher, RQWorker
from seiketsu.jobs.runner import JobRunner, RunnerConfig
from seiketsu.tenancy.scoping import system_session
from tests.conftest import REDIS_URL, fast_passwords, make_settings
from tests.factories import make_org
from tests.faults import eventually
from tests.seiketsu.test_jobs import _enqueue, _job

# --- the missed wake-up that stalled every burst for a minute, at random


def test_rqs_command_listener_misses_its_stop_once_it_has_read_the_unsubscribe(redis_client: Redis) -> None:
    """The race, made deterministic: RQ's teardown sends UNSUBSCRIBE and then stops its listener thread. If the
    listener reads the reply first (it is blocked reading the socket, so it often does), it goes back to wait
    for a subscription, for up to 60 s, and never sees the stop: the stop's join waits those 60 s."""
    worker = SimpleWorker([Queue(QUEUE_NAME, connection=redis_client)], connection=redis_client)
    worker.register_birth()  # type: ignore[no-untyped-call]
    worker.subscribe()  # type: ignore[no-untyped-call]
    pubsub, listener = worker.pubsub, worker.pubsub_thread
    assert pubsub is not None and listener is not None
    try:
        eventually(lambda: pubsub.subscribed, what="the listener's subscription")
        pubsub.unsubscribe()  # what RQ's teardown sends first
        eventually(lambda: not pubsub.subscribed, what="the listener reading the unsubscribe reply")
        listener.stop(timeout=1.0)  # what RQ's teardown does next, with a bound on the join instead of 60 s
        assert listener.is_alive(), "the listener saw its stop"
    finally:
        pubsub.subscribe(worker.pubsub_channel_name)  # wakes the listener, which then finds itself stopped
        listener.join(10)
        worker.register_death()


def test_outbox_workers_start_no_command_listener_so_nothing_is_left_to_wake(redis_client: Redis) -> None:
    stopping = threading.Event()
    worker = OutboxWorker([Queue(QUEUE_NAME, connection=redis_client)], connection=redis_client, stopping=stopping)
    worker.bootstrap()
    try:
        assert worker.pubsub_thread is None
        assert redis_client.pubsub_numsub(worker.pubsub_channel_name) == [(worker.pubsub_channel_name.encode(), 0)]
    finally:
        worker.teardown()  # type: ignore[no-untyped-call]


def test_bursts_end_without_waiting_on_a_listener(container: Container) -> None:
    org = make_org(container, "acme")
    ran: list[uuid.UUID] = []
    container.jobs.registry.register("test.record", lambda context: ran.append(context.job_id))
    assert isinstance(container.jobs.dispatcher, RQDispatcher)
    worker = RQWorker(JobRunner(container, container.runner_config), container.jobs.dispatcher)
    listeners_before = {t for t in threading.enumerate() if type(t).__name__ == "PubSubWorkerThread"}
    for _ in range(20):  # each burst used to start (and stop) a listener, so each risked the race above
        job_id = _enqueue(container, org, "test.record")
        worker.work(burst=True)
        assert _job(container, job_id).status is JobStatus.SUCCEEDED
    assert len(ran) == 20
    listeners = {t for t in threading.enumerate() if type(t).__name__ == "PubSubWorkerThread"}
    assert listeners == listeners_before


# --- Redis out: nothing waits for it


def test_with_redis_unreachable_commits_do_not_wait_and_the_sweeper_runs_the_jobs(pg_url: str) -> None:
    settings = make_settings(database_url=pg_url, redis_url="redis://127.0.0.1:1/0", embedded_jobs=False)
    container = build_container(settings, passwords=fast_passwords())
    try:
        org = make_org(container, f"down-{uuid.uuid4().hex[:6]}")
        ran: list[uuid.UUID] = []
        container.jobs.registry.register("test.record", lambda context: ran.append(context.job_id))
        ids = [_enqueue(container, org, "test.record") for _ in range(5)]
        assert container.redis_breaker is not None and container.redis_breaker.state == "open"
        dispatcher = container.jobs.dispatcher
        assert isinstance(dispatcher, RQDispatcher)
        worker = RQWorker(JobRunner(container, container.runner_config), dispatcher)
        assert worker.sweep_once() == 5  # run here, from the database
        assert sorted(ran) == sorted(ids)
        later = _enqueue(container, org, "test.record")
        worker.work(burst=True)  # the burst falls back the same way
        assert ran[-1] == later
    finally:
        with system_session(container.sessions) as session:
            session.execute(Job.__table__.delete())  # type: ignore[attr-defined]
            session.commit()
        container.close()


# --- leases


def test_a_running_job_keeps_its_lease_by_heartbeat_and_no_one_else_claims_it(container: Container) -> None:
    org = make_org(container, "acme")
    config = RunnerConfig(lease=timedelta(seconds=1), heartbeat=timedelta(seconds=0.1), backoff_base=0.0)
    other = JobRunner(container, config)
    stolen: list[int] = []
    leases: list[object] = []

    def long_job(context: JobContext) -> None:
        until = time.monotonic() + 3 * config.lease.total_seconds()
        while time.monotonic() < until:
            stolen.append(other.run_due())
            with system_session(container.sessions) as session:
                job = session.get(Job, context.job_id)
                assert job is not None
                leases.append(job.locked_until)
            time.sleep(0.05)

    container.jobs.registry.register("test.long", long_job)
    job_id = _enqueue(container, org, "test.long")
    assert JobRunner(container, config).run(job_id) is JobStatus.SUCCEEDED
    assert sum(stolen) == 0
    assert len(set(leases)) > 3  # renewed again and again
    with system_session(container.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.attempts == 1


def test_a_result_after_the_lease_was_taken_over_does_not_overwrite_the_new_run(container: Container) -> None:
    org = make_org(container, "acme")
    config = RunnerConfig(lease=timedelta(seconds=30), backoff_base=0.0)
    runner = JobRunner(container, config)

    def taken_over(context: JobContext) -> None:
        with system_session(container.sessions) as session:  # as if the lease ran out and another run claimed it
            session.execute(
                Job.__table__.update()  # type: ignore[attr-defined]
                .where(Job.__table__.c.id == context.job_id)  # type: ignore[attr-defined]
                .values(attempts=context.attempt + 1)
            )
            session.commit()
        raise RuntimeError("this run's failure is stale")

    container.jobs.registry.register("test.taken", taken_over)
    job_id = _enqueue(container, org, "test.taken")
    runner.run(job_id)
    with system_session(container.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert job.status is JobStatus.RUNNING and job.attempts == 2 and job.last_error is None


def test_the_default_lease_is_short_and_renewed_from_settings(pg_url: str) -> None:
    settings = make_settings(
        database_url=pg_url, redis_url=REDIS_URL, job_lease_seconds=30.0, job_heartbeat_seconds=10.0
    )
    container = build_container(settings, passwords=fast_passwords())
    try:
        assert container.runner_config.lease == timedelta(seconds=30)
        assert container.runner_config.renew_every == 10.0
    finally:
        container.close()
