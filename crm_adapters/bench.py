"""``seiketsu bench crm``: deliver call outcomes to a local HubSpot fake that enforces a request limit.

It uses the configured database and Redis (run ``seiketsu migrate`` first) and the production path end to end:
a temporary organization with a HubSpot integration pointed at the fake, ``call.completed`` events published
at once, ``seiketsu worker`` processes (with Redis; in-process workers without it) pacing their requests through
the shared schedule. It reports the time from publishing to the last delivery against the least the limit
allows (successful requests / limit x window), the 429s collected and any duplicate record, then deletes the
organization. Each outcome is "qualified": contact upsert, call log and follow-up task, three requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
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

from crm_adapters.fake_server import FakeHubSpot, RateLimit
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
    outcomes: int
    workers: int
    limit: int
    window_seconds: float
    succeeded: int
    requests: int
    rate_limited: int
    seconds: float
    minimum_seconds: float
    duplicates: int

    @property
    def ratio(self) -> float:
        return self.seconds / self.minimum_seconds if self.minimum_seconds else float("inf")

    @property
    def passed(self) -> bool:
        return self.succeeded == self.outcomes and self.duplicates == 0 and self.ratio <= TARGET_RATIO


def duplicates(fake: FakeHubSpot) -> int:
    """Records beyond one contact per email and one call and one task per contact."""
    extra = sum(n - 1 for n in Counter(c.properties.get("email") for c in fake.objects["contacts"].values()).values())
    for object_type in ("calls", "tasks"):
        per_contact = Counter(to for stored in fake.objects[object_type].values() for to in stored.associations)
        extra += sum(n - 1 for n in per_contact.values())
    return extra


def _prepare(
    container: Container, *, outcomes: int, fake: FakeHubSpot, limit: RateLimit
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """A throwaway organization whose HubSpot integration points at the fake, told the fake's limit."""
    slug = f"bench-crm-{uuid.uuid4().hex[:8]}"
    with system_session(container.sessions) as session:
        created = create_organization(
            session, container.passwords, name="CRM benchmark", slug=slug, admin_email=f"admin@{slug}.invalid"
        )
        session.commit()
        org_id = created.organization.id
    sealed, keys = seal_credentials(crm_runtime(container).secret_box, {"access_token": fake.access_token})
    events = []
    with tenant_session(container.sessions, org_id) as session:
        integration = Integration(
            crm_type="hubspot",
            name="HubSpot (fake)",
            credentials=sealed,
            credential_keys=keys,
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
def _workers(container: Container, count: int, *, crm_url: str) -> Iterator[None]:
    """``seiketsu worker`` processes with Redis; in-process workers (one shared schedule) without it. Either way
    HubSpot's requests go to ``crm_url``, as ``CRM_BASE_URLS`` and ``ALLOW_PRIVATE_CRM_TARGETS`` say."""
    double = {"CRM_BASE_URLS": f"hubspot={crm_url}", "ALLOW_PRIVATE_CRM_TARGETS": "true"}
    runtime = crm_runtime(container)
    container.extras[EXTRAS_KEY] = replace(
        runtime, base_urls={"hubspot": crm_url}, http_factory=http_client_factory(allow_private=True)
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
    fake = FakeHubSpot(rate_limit=RateLimit(max_requests=limit, window_seconds=window))
    assert fake.rate_limit is not None
    org_id: uuid.UUID | None = None
    try:
        with serve_locally(fake.app) as url:
            org_id, events = _prepare(container, outcomes=outcomes, fake=fake, limit=fake.rate_limit)
            with _workers(container, workers, crm_url=url):
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
        requests = sum(count for status, count in fake.answered.items() if 200 <= status < 300)
        return BenchResult(
            outcomes=outcomes,
            workers=workers,
            limit=limit,
            window_seconds=window,
            succeeded=succeeded,
            requests=requests,
            rate_limited=fake.answered[429],
            seconds=((last or utcnow()) - published_at).total_seconds(),
            minimum_seconds=requests * window / limit,
            duplicates=duplicates(fake),
        )
    finally:
        if org_id is not None:
            with system_session(container.sessions) as session:
                session.execute(sa.delete(Organization).where(col(Organization.id) == org_id))
                session.commit()
        container.close()


@click.command(name="crm")
@click.option("--outcomes", default=1000, show_default=True, help="call outcomes to deliver")
@click.option("--workers", default=4, show_default=True, help="worker processes (threads without REDIS_URL)")
@click.option("--limit", default=100, show_default=True, help="requests the fake CRM allows per window")
@click.option("--window", default=10.0, show_default=True, help="the fake CRM's rolling window, seconds")
@click.option("--timeout", default=None, type=float, help="give up after this many seconds (default: 3x the minimum)")
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
def command(outcomes: int, workers: int, limit: int, window: float, timeout: float | None, as_json: bool) -> None:
    """Deliver OUTCOMES call outcomes to a local HubSpot fake limited to LIMIT requests per WINDOW seconds."""
    settings = load_settings()
    minimum = 3 * outcomes * window / limit
    with tqdm(total=outcomes, unit="outcome", disable=as_json, file=sys.stderr) as bar:

        def advance(done: int) -> None:
            bar.update(done - bar.n)

        result = run_bench(
            settings, outcomes=outcomes, workers=workers, limit=limit, window=window,
            timeout=timeout or 3 * minimum + 60, progress=advance,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps({**asdict(result), "ratio": round(result.ratio, 3), "passed": result.passed}))
    else:
        click.echo(
            f"{result.succeeded}/{result.outcomes} outcomes delivered by {result.workers} workers in "
            f"{result.seconds:.1f} s; {result.requests} requests at {result.limit} per {result.window_seconds:g} s "
            f"need {result.minimum_seconds:.1f} s: ratio {result.ratio:.3f} (target <= {TARGET_RATIO}); "
            f"{result.rate_limited} answered 429; {result.duplicates} duplicates"
        )
    if not result.passed:
        raise SystemExit(1)
