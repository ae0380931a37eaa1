"""``seiketsu bench crm``: deliver call outcomes to a local CRM fake (HubSpot or Follow Up Boss) that enforces a
request limit and may lose answers.

It uses the configured database and Redis (run ``seiketsu migrate`` first) and the production path end to end:
a temporary organization with an integration pointed at the fake, ``call.completed`` events published at once,
``seiketsu worker`` processes (with Redis; in-process workers without it) pacing their requests through the shared
schedule. It reports the time from publishing to the last delivery against the least the limit allows (requests
the fake accepted / limit x window), the 429s collected, the answers lost and any duplicate record, then deletes
the organization. Each outcome is "qualified": contact, call log and follow-up task (HubSpot: three requests;
Follow Up Boss: four, the task's assignee is read first). A lost answer is a 500 after the fake did the work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import click
import sqlalchemy as sa
from rq import Queue, Worker
from sqlmodel import col
from tqdm import tqdm

from crm_adapters.fake_followupboss import FakeFollowUpBoss
from crm_adapters.fake_server import FakeCRM, FakeHubSpot, FaultPlan, RateLimit
from crm_adapters.local_server import serve_locally
from crm_adapters.models import Delivery, DeliveryStatus, Integration
from crm_adapters.runtime import EXTRAS_KEY, crm_runtime, http_client_factory
from crm_adapters.service import seal_credentials
from crm_adapters.wiring import register
from seiketsu.container import Container, build_container
from seiketsu.db import utcnow
from seiketsu.jobs.embedded import InProcessDispatcher, InProcessWorker
from seiketsu.jobs.rq_backend import QUEUE_NAME
from seiketsu.jobs.runner import JobRunner
from seiketsu.leads.models import Lead
from seiketsu.settings import Settings, load_settings
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import system_session, tenant_session
from seiketsu.tenancy.service import create_organization

TARGET_RATIO = 1.2


@dataclass(frozen=True, slots=True)
class BenchResult:
    vendor: str
    outcomes: int
    workers: int
    limit: int
    window_seconds: float
    succeeded: int
    requests: int
    rate_limited: int
    lost_answers: int
    seconds: float
    minimum_seconds: float
    duplicates: int

    @property
    def ratio(self) -> float:
        return self.seconds / self.minimum_seconds if self.minimum_seconds else float("inf")

    @property
    def passed(self) -> bool:
        return self.succeeded == self.outcomes and self.duplicates == 0 and self.ratio <= TARGET_RATIO


HUBSPOT_OUR_IDS = {"lead_id": "seiketsu_lead_id", "call_id": "seiketsu_call_id", "task_id": "seiketsu_task_id"}
"""Our ids mapped to unique HubSpot properties, so that its writes are upserts: with lost answers only these tell
HubSpot a repeat from a new record."""


@dataclass(frozen=True, slots=True)
class BenchCRM:
    """The fake one benchmark run delivers to, and the integration that points at it."""

    fake: FakeCRM
    crm_type: str
    credentials: dict[str, str]
    field_mapping: dict[str, str | None]


def bench_crm(vendor: str, *, limit: RateLimit, faults: FaultPlan) -> BenchCRM:
    if vendor == "followupboss":
        fub = FakeFollowUpBoss(rate_limit=limit, faults=faults)
        return BenchCRM(fub, "followupboss", fub.credentials, {})
    lossy = faults.server_error_after_write > 0
    unique = {"contacts": ["email", "seiketsu_lead_id"], "calls": ["seiketsu_call_id"], "tasks": ["seiketsu_task_id"]}
    hubspot = FakeHubSpot(rate_limit=limit, faults=faults, unique_properties=unique if lossy else None)
    return BenchCRM(hubspot, "hubspot", {"access_token": hubspot.access_token}, dict(HUBSPOT_OUR_IDS) if lossy else {})


def _prepare(
    container: Container, *, outcomes: int, crm: BenchCRM, limit: RateLimit
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """A throwaway organization whose integration points at the fake, told the fake's limit."""
    slug = f"bench-crm-{uuid.uuid4().hex[:8]}"
    with system_session(container.sessions) as session:
        created = create_organization(
            session, container.passwords, name="CRM benchmark", slug=slug, admin_email=f"admin@{slug}.invalid"
        )
        session.commit()
        org_id = created.organization.id
    sealed, keys = seal_credentials(crm_runtime(container).secret_box, crm.credentials)
    events = []
    with tenant_session(container.sessions, org_id) as session:
        integration = Integration(
            crm_type=crm.crm_type,
            name=f"{crm.crm_type} (fake)",
            credentials=sealed,
            credential_keys=keys,
            field_mapping=crm.field_mapping,
            rate_limit_requests=limit.max_requests,
            rate_limit_window_seconds=limit.window_seconds,
        )
        session.add(integration)
        for n in range(outcomes):
            lead = Lead(phone=f"+1512{3000000 + n:07d}", first_name="Bench", last_name=f"Lead{n}",
                        email=f"lead{n}@bench.invalid", source="bench")  # fmt: skip
            session.add(lead)
            events.append(_event(lead, n))
        session.commit()
    return org_id, events


def _event(lead: Lead, n: int) -> dict[str, Any]:
    now = utcnow().isoformat()
    return {
        "callId": str(uuid.uuid4()), "callSid": f"CA{n:032d}", "leadId": str(lead.id), "direction": "inbound",
        "fromNumber": lead.phone, "toNumber": "+15125550100", "status": "completed", "outcome": "qualified",
        "purpose": None, "durationSeconds": 120, "startedAt": now, "answeredAt": now, "endedAt": now,
        "qualification": {"intent": "buy", "area": "Austin", "budget": 450000}, "summary": "Benchmark call.",
        "appointmentId": None, "recordingUrl": None,
    }  # fmt: skip


@contextmanager
def _workers(container: Container, count: int, *, crm_type: str, crm_url: str) -> Iterator[None]:
    """``seiketsu worker`` processes with Redis; in-process workers (one shared schedule) without it. Either way
    the CRM's requests go to ``crm_url``, as ``CRM_BASE_URLS`` and ``ALLOW_PRIVATE_CRM_TARGETS`` say."""
    double = {"CRM_BASE_URLS": f"{crm_type}={crm_url}", "ALLOW_PRIVATE_CRM_TARGETS": "true"}
    runtime = crm_runtime(container)
    container.extras[EXTRAS_KEY] = replace(
        runtime, base_urls={crm_type: crm_url}, http_factory=http_client_factory(allow_private=True)
    )
    if isinstance(container.jobs.dispatcher, InProcessDispatcher):
        runners = [InProcessWorker(JobRunner(container), container.jobs.dispatcher, poll_interval=0.2)
                   for _ in range(count)]  # fmt: skip
        for runner in runners:
            runner.start()
        try:
            yield
        finally:
            for runner in runners:
                runner.stop()
        return
    assert container.redis is not None
    already = Worker.count(connection=container.redis)
    with tempfile.NamedTemporaryFile("w", prefix="seiketsu-bench-workers-", suffix=".log", delete=False) as log:
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "seiketsu.cli", "worker"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, **double},
            )
            for _ in range(count)
        ]
    try:
        # the clock starts when the workers listen with nothing queued, not while they import or drain what an
        # earlier run left (the outbox sweeper re-queues jobs that wait longer than its redispatch interval)
        queue = Queue(QUEUE_NAME, connection=container.redis)
        deadline = time.monotonic() + 900
        while Worker.count(connection=container.redis) < already + count or queue.count:
            if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
                raise click.ClickException(f"the workers did not start or catch up; see {log.name}")
            time.sleep(0.1)
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _finished(container: Container, org_id: uuid.UUID) -> tuple[int, int, datetime | None]:
    with tenant_session(container.sessions, org_id) as session:
        query = sa.select(col(Delivery.status), sa.func.count(), sa.func.max(col(Delivery.finished_at))).group_by(
            col(Delivery.status)
        )
        rows = session.execute(query).all()
    done = {DeliveryStatus(status): (count, last) for status, count, last in rows}
    succeeded, last = done.get(DeliveryStatus.SUCCEEDED, (0, None))
    dead = done.get(DeliveryStatus.DEAD, (0, None))[0]
    return succeeded, dead, last


def run_bench(
    settings: Settings,
    *,
    vendor: str,
    lost_answers: float,
    outcomes: int,
    workers: int,
    limit: int,
    window: float,
    timeout: float,
    progress: Callable[[int], None] = lambda done: None,
) -> BenchResult:
    """Run the benchmark against ``settings``' database and Redis; the temporary organization is removed."""
    container = build_container(settings)
    register(container)
    rate_limit = RateLimit(max_requests=limit, window_seconds=window, send_retry_after=vendor == "followupboss")
    crm = bench_crm(vendor, limit=rate_limit, faults=FaultPlan(server_error_after_write=lost_answers))
    fake = crm.fake
    org_id: uuid.UUID | None = None
    try:
        with serve_locally(fake.app) as url:
            org_id, events = _prepare(container, outcomes=outcomes, crm=crm, limit=rate_limit)
            with _workers(container, workers, crm_type=crm.crm_type, crm_url=url):
                published_at = utcnow()
                with tenant_session(container.sessions, org_id) as session:
                    for event in events:
                        container.events.publish(session, "call.completed", event)
                    session.commit()
                deadline = time.monotonic() + timeout
                while True:
                    succeeded, dead, last = _finished(container, org_id)
                    progress(succeeded + dead)
                    if succeeded + dead >= outcomes or time.monotonic() > deadline:
                        break
                    time.sleep(0.25)
        # every request the limiter let through took a slot, the lost answers' included
        requests = sum(count for status, count in fake.answered.items() if status != 429)
        return BenchResult(
            vendor=vendor,
            outcomes=outcomes,
            workers=workers,
            limit=limit,
            window_seconds=window,
            succeeded=succeeded,
            requests=requests,
            rate_limited=fake.answered[429],
            lost_answers=fake.answered[500],
            seconds=((last or utcnow()) - published_at).total_seconds(),
            minimum_seconds=requests * window / limit,
            duplicates=fake.duplicates(),
        )
    finally:
        if org_id is not None:
            with system_session(container.sessions) as session:
                session.execute(sa.delete(Organization).where(col(Organization.id) == org_id))
                session.commit()
        container.close()


@click.command(name="crm")
@click.option("--vendor", type=click.Choice(["hubspot", "followupboss"]), default="hubspot", show_default=True)
@click.option("--lost-answers", default=0.0, show_default=True, help="share of answers lost after the write (500)")
@click.option("--outcomes", default=1000, show_default=True, help="call outcomes to deliver")
@click.option("--workers", default=4, show_default=True, help="worker processes (threads without REDIS_URL)")
@click.option("--limit", default=100, show_default=True, help="requests the fake CRM allows per window")
@click.option("--window", default=10.0, show_default=True, help="the fake CRM's rolling window, seconds")
@click.option("--timeout", default=None, type=float, help="give up after this many seconds (default: 3x the minimum)")
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
def command(
    vendor: str,
    lost_answers: float,
    outcomes: int,
    workers: int,
    limit: int,
    window: float,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Deliver OUTCOMES call outcomes to a local VENDOR fake limited to LIMIT requests per WINDOW seconds."""
    if not 0 <= lost_answers < 1:
        raise click.BadParameter("must be at least 0 and below 1", param_hint="--lost-answers")
    settings = load_settings()
    minimum = 4 * outcomes * window / limit
    with tqdm(total=outcomes, unit="outcome", disable=as_json, file=sys.stderr) as bar:

        def advance(done: int) -> None:
            bar.update(done - bar.n)

        result = run_bench(
            settings, vendor=vendor, lost_answers=lost_answers, outcomes=outcomes, workers=workers, limit=limit,
            window=window, timeout=timeout or 3 * minimum + 60, progress=advance,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps({**asdict(result), "ratio": round(result.ratio, 3), "passed": result.passed}))
    else:
        click.echo(
            f"{result.vendor}: {result.succeeded}/{result.outcomes} outcomes delivered by {result.workers} workers "
            f"in {result.seconds:.1f} s; {result.requests} requests at {result.limit} per {result.window_seconds:g} s "
            f"need {result.minimum_seconds:.1f} s: ratio {result.ratio:.3f} (target <= {TARGET_RATIO}); "
            f"{result.rate_limited} answered 429; {result.lost_answers} answers lost; {result.duplicates} duplicates"
        )
    if not result.passed:
        raise SystemExit(1)
