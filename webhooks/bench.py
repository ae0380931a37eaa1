"""``seiketsu bench webhooks``: speed-to-lead latency and outbound delivery throughput, on the production path.

It uses the configured database (run ``seiketsu migrate`` first) with in-process job workers, and serves the app
with uvicorn on localhost next to two local doubles: Twilio's Calls resource and a brokerage receiver.

* **Latency**: signed generic (Standard Webhooks) form posts for new consenting leads, one at a time, to an
  organization with speed-to-lead on and a zero delay; for each, the time until the webhook is answered and until
  the Twilio double receives the ``Calls.json`` request (verify, store, intake job, lead, consent, gate decision
  with permit, seat reservation, dial). The gate and the dialer run on a fixed clock (a Tuesday, 11:00 in New
  York) so that every call is inside its calling window.
* **Throughput**: ``lead.created`` events published at once to one endpoint on the local receiver; deliveries per
  second from publishing to the last 2xx, with ``--workers`` job threads.

It runs in a scratch database (beside ``DATABASE_URL``, or a temporary SQLite file), dropped afterwards.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import click
import httpx
import sqlalchemy as sa
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from compliance.deps import EXTRAS_KEY as GATE_KEY
from compliance.imports import ImportSpec, RegistryImporter
from compliance.permits import PermitAuthority
from compliance.registry_files import ListKind
from compliance.rulebook import RuleBook
from compliance.service import ComplianceGate
from crm_adapters.local_server import serve_locally
from seiketsu.app import create_app
from seiketsu.container import Container, build_container
from seiketsu.jobs.embedded import InProcessDispatcher, InProcessWorker
from seiketsu.jobs.runner import JobRunner
from seiketsu.migrate import upgrade
from seiketsu.settings import Settings, load_settings
from seiketsu.tenancy.models import NumberPurpose, Organization, PhoneNumber
from seiketsu.tenancy.scoping import system_session, tenant_session
from seiketsu.tenancy.service import create_organization
from telephony.outbound_runtime import outbound_runtime
from webhooks.models import DeliveryStatus, Provider, WebhookDelivery, WebhookEndpoint, WebhookSource
from webhooks.runtime import webhooks_runtime
from webhooks.secrets import fresh, new_secret
from webhooks.signatures import sign_standard

FIXED_NOW = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)
"""Tuesday 10 June 2025, 11:00 in New York: inside every calling window."""
ACCOUNT = "AC" + "b" * 32
FROM_NUMBER = "+16465550100"


class _FixedClock:
    def now(self) -> datetime:
        return FIXED_NOW

    def __call__(self) -> datetime:
        return FIXED_NOW

    async def sleep_until(self, moment: datetime) -> None:
        return None


@dataclass(frozen=True, slots=True)
class BenchResult:
    leads: int
    dialed: int
    ack_p50_ms: float
    ack_p99_ms: float
    dial_p50_ms: float
    dial_p99_ms: float
    deliveries: int
    delivered: int
    workers: int
    delivery_seconds: float

    @property
    def deliveries_per_second(self) -> float:
        return self.delivered / self.delivery_seconds if self.delivery_seconds else 0.0


class _Doubles:
    """Twilio's Calls resource (records when each number was dialed) and a brokerage receiver (counts)."""

    def __init__(self) -> None:
        self.dialed: dict[str, float] = {}
        self.received = 0
        self._cond = threading.Condition()

    async def _call(self, request: Request) -> Response:
        form = await request.form()
        to = str(form["To"])
        with self._cond:
            self.dialed[to] = time.perf_counter()
            self._cond.notify_all()
        sid = "CA" + uuid.uuid4().hex
        return JSONResponse({"sid": sid, "status": "queued", "to": to, "from": str(form["From"])}, status_code=201)

    async def _hook(self, request: Request) -> Response:
        await request.body()
        with self._cond:
            self.received += 1
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json", self._call, methods=["POST"]),
                Route("/hook", self._hook, methods=["POST"]),
            ]
        )

    def wait_dialed(self, phone: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while phone not in self.dialed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self.dialed[phone]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _prepare(container: Container, doubles_url: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    slug = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
    with system_session(container.sessions) as session:
        created = create_organization(
            session, container.passwords, name="Webhooks benchmark", slug=slug, admin_email=f"admin@{slug}.invalid"
        )
        org = session.get(Organization, created.organization.id)
        assert org is not None
        org.settings = {"speedToLead": {"enabled": True, "delaySeconds": 0}}
        org.max_concurrent_calls = 1_000_000
        session.add(PhoneNumber(organization_id=org.id, e164=FROM_NUMBER, purpose=NumberPurpose.OUTBOUND))
        session.commit()
        org_id = org.id
    spec = ImportSpec(
        organization_id=org_id,
        list_name="national",
        kind=ListKind.FULL,
        as_of=FIXED_NOW.date() - timedelta(days=5),
        declared_area_codes=frozenset({"646"}),
    )
    RegistryImporter(container.engine).run(spec, io.BytesIO(b""), name="bench.txt")
    secret = new_secret()
    box = webhooks_runtime(container).secret_box
    with tenant_session(container.sessions, org_id) as session:
        source = WebhookSource(provider=Provider.GENERIC, name="bench form", secret=box.encrypt({"secret": secret}))
        _, sealed = fresh(box)
        endpoint = WebhookEndpoint(url=f"{doubles_url}/hook", events=["lead.created"], secrets=sealed, enabled=False)
        session.add_all([source, endpoint])
        session.commit()
        return org_id, source.id, secret


def _form(n: int) -> tuple[str, bytes]:
    phone = f"+1646{2000000 + n:07d}"
    body = {
        "phone": phone,
        "firstName": "Bench",
        "lastName": f"Lead{n}",
        "consent": {"text": "I agree to calls by AI voice.", "pageUrl": "https://bench.invalid/form",
                    "grantedAt": (FIXED_NOW - timedelta(minutes=1)).isoformat(), "ipAddress": "203.0.113.9"},
    }  # fmt: skip
    return phone, json.dumps(body).encode()


@contextmanager
def scratch_database(settings: Settings) -> Iterator[str]:
    """A fresh, migrated database beside the configured one (PostgreSQL) or in a temporary file (SQLite), dropped
    afterwards: the gate's audit log is append-only, so the benchmark's rows cannot be deleted one by one."""
    if settings.is_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(replace(settings, database_url=url))
            yield url
        return
    base, _, _ = settings.database_url.rpartition("/")
    name = f"seiketsu_bench_webhooks_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = f"{base}/{name}"
        upgrade(replace(settings, database_url=url))
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def _workers(container: Container, count: int) -> Iterator[None]:
    assert isinstance(container.jobs.dispatcher, InProcessDispatcher)
    workers = [
        InProcessWorker(JobRunner(container, container.runner_config), container.jobs.dispatcher, poll_interval=0.02)
        for _ in range(count)
    ]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.stop()


def _latency(
    container: Container, doubles: _Doubles, app_url: str, source_id: uuid.UUID, secret: str, leads: int
) -> tuple[list[float], list[float]]:
    acks: list[float] = []
    dials: list[float] = []
    with httpx.Client(base_url=app_url, timeout=30) as http:
        for n in range(leads):
            phone, body = _form(n)
            msg_id = f"msg_{uuid.uuid4().hex}"
            now = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": sign_standard(
                    secrets=[secret], message_id=msg_id, timestamp=now, body=body.decode()
                ),
            }
            started = time.perf_counter()
            response = http.post(f"/webhooks/generic/{source_id}", content=body, headers=headers)
            acks.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            dialed_at = doubles.wait_dialed(phone, timeout=30)
            if dialed_at is not None:
                dials.append((dialed_at - started) * 1000)
    return acks, dials


def _throughput(container: Container, doubles: _Doubles, org_id: uuid.UUID, deliveries: int) -> tuple[int, float]:
    with tenant_session(container.sessions, org_id) as session:
        session.execute(sa.update(WebhookEndpoint).values(enabled=True))
        session.commit()
    before = doubles.received
    started = time.perf_counter()
    with tenant_session(container.sessions, org_id) as session:
        for n in range(deliveries):
            container.events.publish(session, "lead.created", {"leadId": str(uuid.uuid4()), "n": n})
        session.commit()
    deadline = time.monotonic() + max(60.0, deliveries * 0.5)
    while time.monotonic() < deadline:
        with tenant_session(container.sessions, org_id) as session:
            done = session.scalar(
                sa.select(sa.func.count())
                .select_from(WebhookDelivery)
                .where(col(WebhookDelivery.status) != DeliveryStatus.PENDING)
            )
        if (done or 0) >= deliveries:
            break
        time.sleep(0.05)
    return doubles.received - before, time.perf_counter() - started


def run_bench(settings: Settings, *, leads: int, deliveries: int, workers: int) -> BenchResult:
    doubles = _Doubles()
    with ExitStack() as stack:
        doubles_url = stack.enter_context(serve_locally(doubles.app()))
        settings = replace(
            settings,
            database_url=stack.enter_context(scratch_database(settings)),
            log_level="WARNING",
            redis_url=None,
            embedded_jobs=True,
            allow_private_webhook_targets=True,
            twilio_account_sid=ACCOUNT,
            twilio_auth_token="bench-token",
            twilio_api_base_url=doubles_url,
            warm_up_voice=False,
        )
        container = build_container(settings)
        stack.callback(container.close)
        app = create_app(settings, container=container)
        clock = _FixedClock()
        container.extras[GATE_KEY] = ComplianceGate(
            engine=container.engine, rulebook=RuleBook.load(), permits=PermitAuthority(settings.secret_key), clock=clock
        )
        outbound_runtime(container).clock = clock
        org_id, source_id, secret = _prepare(container, doubles_url)
        app_url = stack.enter_context(serve_locally(app))
        stack.enter_context(_workers(container, workers))
        acks, dials = _latency(container, doubles, app_url, source_id, secret, leads)
        delivered, seconds = _throughput(container, doubles, org_id, deliveries)
    return BenchResult(
        leads=leads,
        dialed=len(dials),
        ack_p50_ms=statistics.median(acks),
        ack_p99_ms=_percentile(acks, 0.99),
        dial_p50_ms=statistics.median(dials) if dials else float("nan"),
        dial_p99_ms=_percentile(dials, 0.99),
        deliveries=deliveries,
        delivered=delivered,
        workers=workers,
        delivery_seconds=seconds,
    )


@click.command(name="webhooks")
@click.option("--leads", default=200, show_default=True, help="webhooks posted one at a time (latency)")
@click.option("--deliveries", default=500, show_default=True, help="events delivered to the local receiver")
@click.option("--workers", default=2, show_default=True, help="in-process job worker threads")
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
def command(leads: int, deliveries: int, workers: int, as_json: bool) -> None:
    """Speed-to-lead latency (webhook to dial request, zero delay) and outbound delivery throughput."""
    result = run_bench(load_settings(), leads=leads, deliveries=deliveries, workers=workers)
    if as_json:
        click.echo(json.dumps({**asdict(result), "deliveries_per_second": round(result.deliveries_per_second, 1)}))
    else:
        click.echo(
            f"speed-to-lead: {result.dialed}/{result.leads} dialed; webhook answered p50 {result.ack_p50_ms:.1f} ms, "
            f"p99 {result.ack_p99_ms:.1f} ms; webhook to dial request p50 {result.dial_p50_ms:.1f} ms, "
            f"p99 {result.dial_p99_ms:.1f} ms\n"
            f"deliveries: {result.delivered}/{result.deliveries} in {result.delivery_seconds:.2f} s with "
            f"{result.workers} worker thread(s): {result.deliveries_per_second:.1f}/s"
        )
    if result.dialed < result.leads or result.delivered < result.deliveries:
        sys.exit(1)
