"""Fault tests with real servers: a private Redis paused (SIGSTOP) and killed, a worker process killed mid-job,
and PostgreSQL cut off as by a restart (through a proxy of the test's own; the shared servers are never touched).

The service keeps answering, the ``seiketsu worker`` process survives and resumes, and no job is lost: each
``lead.created`` event is delivered to the brokerage's receiver once Redis or the database is back, or at once
by the worker's sweeper while Redis is out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from seiketsu.app import create_app
from seiketsu.container import Container, build_container
from seiketsu.leads.models import Lead
from seiketsu.settings import Settings
from seiketsu.tenancy.scoping import system_session
from tests.conftest import TEST_SECRET, fast_passwords, make_settings, truncate
from tests.factories import OrgFixture, login
from tests.faults import PrivateRedis, TcpProxy, eventually, private_redis, tcp_proxy
from tests.telephony.conftest import twilio_post, voice_org, voice_params
from tests.webhooks.support import Receiver, receiver, runtime_of

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def settings(pg_url: str, redis_server: PrivateRedis) -> Settings:
    return make_settings(
        database_url=pg_url, redis_url=redis_server.url, embedded_jobs=False, redis_retry_after_seconds=0.5
    )


@contextmanager
def worker_process(settings: Settings, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``seiketsu worker`` as the Procfile runs it, in a process of its own."""
    assert settings.redis_url is not None
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": TEST_SECRET,
        "PUBLIC_BASE_URL": settings.public_base_url,
        "LOG_LEVEL": "WARNING",
        "ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",
        "REDIS_RETRY_AFTER_SECONDS": "0.5",
        "JOB_BACKOFF_BASE_SECONDS": "0",
        "FREEZE_GC_AFTER_START": "false",
        "MALLOC_TRIM_INTERVAL_SECONDS": "0",
        **env,
    }
    process = subprocess.Popen([sys.executable, "-m", "seiketsu.cli", "worker"], env=environment, cwd=ROOT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


class Brokerage:
    """An organization whose ``lead.created`` events go to a receiver; leads are created through the API."""

    def __init__(self, client: TestClient, container: Container, org: OrgFixture, hooks: Receiver, url: str) -> None:
        runtime_of(container).allow_private_targets = True
        self.client, self.hooks, self.path = client, hooks, "/hooks"
        self.headers = login(client, org)
        response = client.post(
            "/api/v1/webhook-endpoints", headers=self.headers, json={"url": url + self.path, "events": ["lead.created"]}
        )
        assert response.status_code == 201, response.text
        self.created: list[str] = []

    def new_lead(self) -> None:
        phone = f"+1512555{len(self.created) + 1000:04d}"
        response = self.client.post("/api/v1/leads", headers=self.headers, json={"phone": phone})
        assert response.status_code == 201, response.text
        self.created.append(response.json()["id"])

    def delivered(self) -> set[str]:
        return {hook.json()["data"]["leadId"] for hook in self.hooks.at(self.path)}

    def wait_for_all(self, what: str) -> None:
        eventually(lambda: self.delivered() >= set(self.created), within=45, what=what)


def _answers(client: TestClient, org: OrgFixture) -> None:
    """What Twilio, a user and a load balancer need, each answered."""
    voice = twilio_post(client, "/twilio/voice", voice_params("CA" + uuid.uuid4().hex))
    assert voice.status_code == 200 and "<Stream" in voice.text
    headers = login(client, org)  # asserts a 200 with tokens
    assert client.get("/api/v1/leads", headers=headers).status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_redis_paused_then_killed_the_service_answers_the_worker_survives_and_no_job_is_lost(
    client: TestClient, container: Container, redis_server: PrivateRedis, settings: Settings
) -> None:
    org = voice_org(container)
    with receiver() as (hooks, url), worker_process(settings) as worker:
        brokerage = Brokerage(client, container, org, hooks, url)
        _answers(client, org)
        brokerage.new_lead()
        brokerage.wait_for_all("a delivery with Redis up")

        redis_server.pause()
        for _ in range(3):
            _answers(client, org)
            brokerage.new_lead()
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded" and ready.json()["degraded"] == ["redis"]
        brokerage.wait_for_all("deliveries while Redis is paused (by the worker's sweeper)")

        redis_server.kill()
        for _ in range(3):
            _answers(client, org)
            brokerage.new_lead()
        assert client.get("/readyz").json()["checks"]["redis"] == "unreachable"
        brokerage.wait_for_all("deliveries while Redis is dead")
        assert worker.poll() is None, "the worker exited"

        redis_server.start()  # back, empty, on the same port
        eventually(lambda: client.get("/readyz").json()["status"] == "ok", what="readiness once Redis is back")
        brokerage.new_lead()
        brokerage.wait_for_all("a delivery once Redis is back")
        assert worker.poll() is None

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0  # a signal still stops it, cleanly
    with system_session(container.sessions) as session:
        leads = sorted(str(lead_id) for lead_id in session.scalars(sa.select(col(Lead.id))))
    # the 8 leads made through the API, and the caller's, made by the first inbound call
    assert len(brokerage.created) == 8 and len(leads) == 9 and set(brokerage.created) < set(leads)
    eventually(lambda: len(hooks.at("/hooks")) >= len(leads), within=45, what="the caller's lead.created")
    assert sorted(hook.json()["data"]["leadId"] for hook in hooks.at("/hooks")) == leads  # each once


def test_a_job_whose_worker_was_killed_mid_run_runs_again_once_its_short_lease_expires(
    client: TestClient, container: Container, settings: Settings
) -> None:
    org = voice_org(container)
    leases = {"JOB_LEASE_SECONDS": "2", "JOB_HEARTBEAT_SECONDS": "0.5"}
    with receiver() as (hooks, url):
        brokerage = Brokerage(client, container, org, hooks, url)
        hooks.delay[brokerage.path] = 6.0  # longer than the lease: the heartbeat keeps it
        with worker_process(settings, **leases) as first:
            brokerage.new_lead()
            eventually(lambda: hooks.at(brokerage.path), what="the first worker's delivery attempt")
            first.kill()  # mid-delivery
        hooks.delay.clear()
        with worker_process(settings, **leases):
            eventually(lambda: len(hooks.at(brokerage.path)) >= 2, within=30, what="the job run again")
    assert {hook.json()["data"]["leadId"] for hook in hooks.at(brokerage.path)} == set(brokerage.created)


@pytest.fixture
def database_proxy(pg_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(pg_url)
    with tcp_proxy((parts.hostname or "127.0.0.1", parts.port or 5432)) as proxy:
        yield proxy


def test_the_app_and_the_worker_recover_when_the_database_restarts(
    pg_url: str, settings: Settings, database_proxy: TcpProxy
) -> None:
    parts = urlsplit(pg_url)
    proxied = parts._replace(netloc=f"{parts.username}@127.0.0.1:{database_proxy.port}").geturl()
    through_proxy = make_settings(
        database_url=proxied, redis_url=settings.redis_url, embedded_jobs=False, redis_retry_after_seconds=0.5
    )
    container = build_container(through_proxy, passwords=fast_passwords())
    try:
        with (
            TestClient(create_app(through_proxy, container=container)) as client,
            receiver() as (hooks, url),
            worker_process(through_proxy, JOB_LEASE_SECONDS="3", JOB_HEARTBEAT_SECONDS="1") as worker,
        ):
            org = voice_org(container)
            brokerage = Brokerage(client, container, org, hooks, url)
            brokerage.new_lead()
            brokerage.wait_for_all("a delivery before the restart")

            brokerage.new_lead()  # committed; its delivery may be running when the connections drop
            database_proxy.cut()
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 503
            assert client.get("/api/v1/leads", headers=brokerage.headers).status_code == 503
            database_proxy.restore()

            _answers(client, org)  # stale pooled connections are replaced (pre-ping), nothing to restart
            brokerage.new_lead()
            brokerage.wait_for_all("deliveries after the restart")
            assert worker.poll() is None, "the worker exited"
    finally:
        truncate(container)
        container.close()
