"""``seiketsu bench campaign``: a campaign dialing through real RQ workers against a local Twilio double.

Each run works in a scratch database it creates on the PostgreSQL server of ``DATABASE_URL`` (the role needs
CREATEDB) and uses the Redis of ``REDIS_URL``. It starts:

- the Twilio double (``telephony.campaigns.bench_twilio``) in this process: it answers Calls.json, and
  ``--call-seconds`` later posts each call's signed "completed" status to the app;
- the app (``uvicorn seiketsu.app:create_app``), which takes those status callbacks;
- ``--workers`` RQ worker processes (``telephony.campaigns.bench_worker``), which run the pacing ticks and every
  other job, and record each dial's planned and actual dispatch time and each tick's costs.

It seeds one organization with ``--leads`` consenting leads and a fresh registry copy, starts a marketing campaign
at ``--calls-per-minute`` (every dial asks the gate), waits for it to complete, and reports: scheduling overhead
per dial (the dialer's own work: claims, reservations, records), gate time per dial, and dispatch jitter (actual
minus planned dial time) as the dialer sent it and as the double received it. The gate and the dialer run on a
clock shifted to a Tuesday at 11:00 in New York, so every run is inside the calling windows.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx
import sqlalchemy as sa
from sqlmodel import col

from compliance.imports import ImportSpec, RegistryImporter
from compliance.models import ConsentRecord
from compliance.registry_files import ListKind
from compliance.vocabulary import Purpose
from seiketsu.container import Container, build_container
from seiketsu.migrate import upgrade
from seiketsu.settings import Settings, load_settings
from seiketsu.tenancy.models import NumberPurpose, Organization, PhoneNumber
from seiketsu.tenancy.scoping import system_session, tenant_session
from seiketsu.wiring import wire_packages
from telephony.campaigns import service
from telephony.campaigns.bench_twilio import DoubleServer, TwilioDouble
from telephony.campaigns.models import Campaign, CampaignLead, CampaignStatus
from telephony.campaigns.schedule import CallingSchedule

SHIFTED_TO = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)  # Tuesday, 11:00 in New York
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-twilio-auth-token-0123456789"
FROM_NUMBER = "+12125550100"
AREA_CODES = ("212", "646", "917", "718")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else float("nan")


def phones(count: int) -> list[str]:
    """``count`` distinct New York City numbers in the 555 exchange."""
    return [f"+1{AREA_CODES[n // 10_000]}555{n % 10_000:04d}" for n in range(count)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def scratch_database(settings: Settings) -> Iterator[str]:
    base, _, _ = settings.database_url.rpartition("/")
    name = f"seiketsu_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield f"{base}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _seed(container: Container, *, leads: int, limit: int) -> uuid.UUID:
    now = SHIFTED_TO
    with system_session(container.sessions) as session:
        org = Organization(name="Bench Realty", slug=f"bench-{uuid.uuid4().hex[:6]}", max_concurrent_calls=limit)
        session.add(org)
        session.flush()
        session.add(PhoneNumber(organization_id=org.id, e164=FROM_NUMBER, purpose=NumberPurpose.BOTH))
        session.commit()
    with container.engine.begin() as connection:
        numbers = phones(leads)
        for start in range(0, leads, 2000):
            chunk = numbers[start : start + 2000]
            connection.execute(
                sa.text(
                    "INSERT INTO leads (id, organization_id, first_name, last_name, phone, source, status, "
                    "qualification, created_at, updated_at) SELECT gen_random_uuid(), :org, 'Bench', '', p, "
                    "'bench', 'new', '{}'::jsonb, now(), now() FROM unnest(CAST(:phones AS text[])) AS p"
                ),
                {"org": org.id, "phones": chunk},
            )
            connection.execute(
                sa.insert(ConsentRecord),
                [{"id": uuid.uuid4(), "organization_id": org.id, "phone": phone, "action": "grant",
                  "kind": "prior_express_written", "channels": ["artificial_voice_call", "live_call", "sms"],
                  "purposes": ["marketing", "informational"], "method": "web_form",
                  "occurred_at": now - timedelta(days=30), "form_url": "https://bench.example/form",
                  "detail": "", "recorded_by": "system:bench", "recorded_at": now} for phone in chunk],
            )  # fmt: skip
    spec = ImportSpec(
        organization_id=org.id,
        list_name="national",
        kind=ListKind.FULL,
        as_of=now.date() - timedelta(days=5),
        declared_area_codes=frozenset(AREA_CODES),
    )
    RegistryImporter(container.engine).run(spec, io.BytesIO(b""), name="bench-empty.txt")
    return org.id


def _start_campaign(container: Container, organization_id: uuid.UUID, *, rate: int, limit: int) -> uuid.UUID:
    settings = service.CampaignSettings(
        name="Bench campaign",
        purpose=Purpose.MARKETING.value,
        schedule=CallingSchedule.build(
            timezone="America/New_York", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], start="00:00",
            end="24:00",
        ),  # fmt: skip
        calls_per_minute=rate,
        max_concurrent_calls=limit,
        max_attempts=1,
        retry_delay=timedelta(hours=1),
    )
    with tenant_session(container.sessions, organization_id) as session:
        campaign = service.create_campaign(
            session, settings=settings, leads=service.LeadFilter(), created_by="system:bench", now=SHIFTED_TO
        )
        session.commit()
        service.start(session, container.jobs, campaign, now=SHIFTED_TO)
        session.commit()
        return campaign.id


@dataclass
class RunResult:
    dials: int
    seconds: float
    """From the first dial to the last (not to the campaign's completion, which waits for the last calls to end)."""
    overhead_ms: list[float]
    gate_ms: list[float]
    mean_overhead_ms: float
    mean_gate_ms: float
    jitter_ms: list[float]
    arrival_ms: list[float]
    callbacks_failed: int

    def summary(self) -> dict[str, float]:
        return {
            "dials": self.dials,
            "calls_per_minute": self.dials / self.seconds * 60 if self.seconds else 0.0,
            "overhead_ms_per_dial": self.mean_overhead_ms,
            "overhead_ms_p99_tick": percentile(self.overhead_ms, 99),
            "gate_ms_per_dial": self.mean_gate_ms,
            "gate_ms_p99_tick": percentile(self.gate_ms, 99),
            "jitter_ms_p50": percentile(self.jitter_ms, 50),
            "jitter_ms_p99": percentile(self.jitter_ms, 99),
            "jitter_ms_max": max(self.jitter_ms, default=float("nan")),
            "arrival_ms_p50": percentile(self.arrival_ms, 50),
            "arrival_ms_p99": percentile(self.arrival_ms, 99),
        }


def _wait(container: Container, campaign_id: uuid.UUID, *, leads: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    while time.monotonic() < deadline:
        with container.engine.connect() as connection:
            status = connection.execute(
                sa.select(col(Campaign.status)).where(col(Campaign.id) == campaign_id)
            ).scalar_one()
            dialed = connection.execute(
                sa.select(sa.func.count()).where(
                    col(CampaignLead.campaign_id) == campaign_id, col(CampaignLead.dialed_at).is_not(None)
                )
            ).scalar_one()
        if status == CampaignStatus.COMPLETED:
            return
        if time.monotonic() - last_report > 15:
            click.echo(f"  {dialed:,}/{leads:,} dialed")
            last_report = time.monotonic()
        time.sleep(0.5)
    raise click.ClickException(f"the campaign did not complete within {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException("the app exited at start-up")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise click.ClickException("the app did not start")


def run_once(settings: Settings, *, leads: int, rate: int, workers: int, limit: int, call_seconds: float) -> RunResult:
    if not settings.database_url.startswith("postgresql") or not settings.redis_url:
        raise click.ClickException("the campaign benchmark needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL")
    double_port, app_port = _free_port(), _free_port()
    offset = SHIFTED_TO - datetime.now(UTC)
    with scratch_database(settings) as url, tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": settings.redis_url,
            "SECRET_KEY": settings.secret_key,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{app_port}",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": f"http://127.0.0.1:{double_port}",
            "WARM_UP_VOICE": "false",
            "LOG_LEVEL": "WARNING",
            "BENCH_CLOCK_OFFSET": str(offset.total_seconds()),
        }
        bench_settings = load_settings(env)
        upgrade(bench_settings)
        container = build_container(bench_settings)
        wire_packages(container)
        processes: list[subprocess.Popen[bytes]] = []
        double = TwilioDouble(auth_token=AUTH_TOKEN, call_seconds=call_seconds)
        server = DoubleServer(double, port=double_port)
        stats = [Path(folder) / f"worker-{n}.jsonl" for n in range(workers)]
        try:
            organization_id = _seed(container, leads=leads, limit=limit)
            server.start()
            app = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "seiketsu.app:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(app_port), "--log-level", "warning"],
                env=env,
            )  # fmt: skip
            processes.append(app)
            _wait_healthy(f"http://127.0.0.1:{app_port}", app)
            for path in stats:
                command = [sys.executable, "-m", "telephony.campaigns.bench_worker"]
                processes.append(subprocess.Popen(command, env={**env, "BENCH_STATS": str(path)}))
            time.sleep(1.0)  # the workers connect and start listening
            campaign_id = _start_campaign(container, organization_id, rate=rate, limit=limit)
            _wait(container, campaign_id, leads=leads, timeout=leads / rate * 60 * 3 + 120)
            return _collect(container, campaign_id, stats, double, offset=offset)
        finally:
            for process in reversed(processes):
                _stop(process)
            server.stop()
            container.close()


def _collect(
    container: Container,
    campaign_id: uuid.UUID,
    stats: list[Path],
    double: TwilioDouble,
    *,
    offset: timedelta,
) -> RunResult:
    dials: list[dict[str, Any]] = []
    ticks: list[dict[str, Any]] = []
    for path in stats:
        if path.exists():
            for line in path.read_text().splitlines():
                record = json.loads(line)
                (dials if "planned" in record else ticks).append(record)
    busy = [t for t in ticks if t["dials"]]
    dialed = sum(t["dials"] for t in busy)
    with container.engine.connect() as connection:
        planned = {
            phone: at
            for phone, at in connection.execute(
                sa.select(col(CampaignLead.phone), col(CampaignLead.planned_at)).where(
                    col(CampaignLead.campaign_id) == campaign_id
                )
            )
        }
    shift = offset.total_seconds()
    arrivals = []
    for arrival in double.arrivals:
        at = planned.get(arrival.to)
        if at is not None:
            arrivals.append((arrival.at + shift - at.timestamp()) * 1000)
    moments = [d["actual"] for d in dials]
    return RunResult(
        dials=len(dials),
        seconds=max(moments) - min(moments) if len(moments) > 1 else 0.0,
        overhead_ms=[t["overhead"] / t["dials"] * 1000 for t in busy],
        gate_ms=[t["gate"] / t["dials"] * 1000 for t in busy],
        mean_overhead_ms=sum(t["overhead"] for t in busy) / dialed * 1000 if dialed else float("nan"),
        mean_gate_ms=sum(t["gate"] for t in busy) / dialed * 1000 if dialed else float("nan"),
        jitter_ms=[(d["actual"] - d["planned"]) * 1000 for d in dials],
        arrival_ms=arrivals,
        callbacks_failed=double.callbacks_failed,
    )


def _median(results: list[RunResult], key: str) -> float:
    return statistics.median(r.summary()[key] for r in results)


@click.command("campaign")
@click.option("--leads", default=10_000, show_default=True, help="leads in the campaign (at most 40,000)")
@click.option("--calls-per-minute", "rate", default=600, show_default=True)
@click.option("--workers", default=2, show_default=True, help="RQ worker processes")
@click.option("--max-concurrent", "limit", default=100, show_default=True, help="the organization's line limit")
@click.option("--call-seconds", default=5.0, show_default=True, help="how long each call lasts at the double")
@click.option("--runs", default=1, show_default=True, help="runs; medians are reported")
def command(leads: int, rate: int, workers: int, limit: int, call_seconds: float, runs: int) -> None:
    """Dial a campaign against a local Twilio double and report scheduling overhead and gate time per dial and
    the dispatch jitter (target: p99 <= 1 s at 600 calls per minute)."""
    if not 1 <= leads <= 10_000 * len(AREA_CODES):
        raise click.BadParameter(f"1 to {10_000 * len(AREA_CODES)}", param_hint="--leads")
    settings = load_settings()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    cpus = os.cpu_count()
    click.echo(f"{leads:,} leads at {rate} calls/min, {workers} worker(s); load average {load} on {cpus} CPU(s)")
    results = []
    for run in range(1, runs + 1):
        result = run_once(settings, leads=leads, rate=rate, workers=workers, limit=limit, call_seconds=call_seconds)
        results.append(result)
        s = result.summary()
        click.echo(
            f"run {run}: {s['dials']:.0f} dials at {s['calls_per_minute']:.0f}/min;"
            f" overhead {s['overhead_ms_per_dial']:.2f} ms/dial (tick p99 {s['overhead_ms_p99_tick']:.2f});"
            f" gate {s['gate_ms_per_dial']:.2f} ms/dial (tick p99 {s['gate_ms_p99_tick']:.2f});"
            f" jitter p50 {s['jitter_ms_p50']:.1f} ms, p99 {s['jitter_ms_p99']:.1f} ms,"
            f" max {s['jitter_ms_max']:.1f} ms;"
            f" at the double p50 {s['arrival_ms_p50']:.1f} ms, p99 {s['arrival_ms_p99']:.1f} ms;"
            f" status callbacks failed: {result.callbacks_failed}"
        )
    if runs > 1:
        keys = ("overhead_ms_per_dial", "gate_ms_per_dial", "jitter_ms_p50", "jitter_ms_p99", "arrival_ms_p99")
        click.echo("medians: " + ", ".join(f"{key} {_median(results, key):.2f}" for key in keys))
    worst = max(r.summary()["jitter_ms_p99"] for r in results)
    click.echo(f"dispatch jitter p99 {'<=' if worst <= 1000 else '>'} 1 s (worst run {worst:.1f} ms)")
