"""``seiketsu bench uploads``: Twilio's voice webhook while campaign CSVs are uploaded (target: p99 <= 100 ms).

Each run works in a scratch database made on the PostgreSQL server of ``DATABASE_URL`` (the role needs CREATEDB)
and serves the app with uvicorn (``seiketsu.app:create_app``, the Procfile's web process; RQ dispatch when
``REDIS_URL`` is set, else in-process jobs). It seeds a brokerage with an inbound number and ``--uploads``
organizations, each with an agent's API key, then sends signed ``POST /twilio/voice`` requests at ``--rate`` a
second (each a new call), for ``--baseline`` seconds alone and then while every organization uploads a
``--rows``-row campaign CSV at once (one each, so that the per-organization limit refuses none of them). It
reports the webhook's latency as the caller (Twilio) sees it, alone and during the uploads, and each upload's
status and duration.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import click
import httpx

from seiketsu.auth.service import create_api_key
from seiketsu.container import build_container
from seiketsu.migrate import upgrade
from seiketsu.settings import Settings, load_settings
from seiketsu.tenancy.models import Organization, Role
from seiketsu.tenancy.scoping import system_session
from seiketsu.tenancy.service import create_organization
from telephony.campaigns.bench import _free_port, _stop, _wait_healthy, percentile, scratch_database
from telephony.runtime import twilio_auth_token
from telephony.signatures import compute_twilio_signature

BROKERAGE = "+15125550100"
CALLERS = tuple(f"+1512555{n:04d}" for n in range(7000, 7020))
AREA_CODES = ("212", "646", "917", "718", "347", "929", "332", "516")
CAMPAIGN = {"name": "Bench upload", "callsPerMinute": 30, "maxAttempts": 1}


def campaign_csv(rows: int, *, area_code: str) -> bytes:
    """``rows`` distinct leads of one area code, with every column a campaign reads."""
    lines = ["phone,first name,last name,email,street,city,state,zip"]
    for n in range(rows):
        exchange = 201 + n // 10_000
        lines.append(
            f"({area_code}) {exchange}-{n % 10_000:04d},Lee{n},Park,lee{n}@example.com,{n} Main St,New York,NY,10001"
        )
    return ("\n".join(lines) + "\n").encode()


@dataclass
class RunResult:
    baseline_ms: list[float]
    during_ms: list[float]
    upload_status: list[int]
    upload_seconds: list[float]
    voice_errors: int = 0
    upload_details: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return {
            "baseline_p50_ms": percentile(self.baseline_ms, 50),
            "baseline_p99_ms": percentile(self.baseline_ms, 99),
            "during_p50_ms": percentile(self.during_ms, 50),
            "during_p99_ms": percentile(self.during_ms, 99),
            "during_max_ms": max(self.during_ms, default=float("nan")),
            "uploads_seconds_max": max(self.upload_seconds, default=float("nan")),
        }


def _seed(settings: Settings, *, uploads: int) -> list[str]:
    """The brokerage answering calls and ``uploads`` organizations; returns an agent API key of each."""
    container = build_container(settings)
    keys = []
    try:
        with system_session(container.sessions) as session:
            brokerage = create_organization(
                session, container.passwords, name="Bench Realty", slug="bench-realty",
                admin_email="admin@bench.example", numbers=(BROKERAGE,),
            )  # fmt: skip
            record = session.get(Organization, brokerage.organization.id)
            assert record is not None
            record.max_concurrent_calls = 1_000_000
            for n in range(uploads):
                created = create_organization(
                    session, container.passwords, name=f"Uploader {n}", slug=f"uploader-{n}",
                    admin_email=f"admin@uploader-{n}.example",
                )  # fmt: skip
                issued = create_api_key(
                    session, organization_id=created.organization.id, name="bench", role=Role.AGENT, created_by=None
                )
                keys.append(issued.key)
            session.commit()
    finally:
        container.close()
    return keys


async def _voice_load(
    http: httpx.AsyncClient, token: str, public_base_url: str, *, rate: float, stop: asyncio.Event
) -> tuple[list[tuple[float, float]], int]:
    """Signed inbound-call webhooks at ``rate`` a second until ``stop``: (sent at, latency in ms) of each."""
    url = public_base_url + "/twilio/voice"
    samples: list[tuple[float, float]] = []
    errors = 0
    tasks: list[asyncio.Task[None]] = []

    async def one(n: int) -> None:
        nonlocal errors
        params = {
            "CallSid": f"CA{uuid.uuid4().hex}",
            "AccountSid": "AC" + "0" * 32,
            "From": CALLERS[n % len(CALLERS)],
            "To": BROKERAGE,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        signature = compute_twilio_signature(token, url, params)
        sent = time.monotonic()
        try:
            response = await http.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})
            if response.status_code != 200 or "<Stream" not in response.text:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        samples.append((sent, (time.monotonic() - sent) * 1000))

    start = time.monotonic()
    for n in itertools.count():
        if stop.is_set():
            break
        tasks.append(asyncio.create_task(one(n)))
        await asyncio.sleep(max(0.0, start + (n + 1) / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    return samples, errors


async def _upload(http: httpx.AsyncClient, key: str, body: bytes) -> tuple[int, float, str]:
    started = time.monotonic()
    try:
        response = await http.post(
            "/api/v1/campaigns",
            headers={"X-API-Key": key},
            files={"file": ("leads.csv", body, "text/csv")},
            data={"campaign": json.dumps(CAMPAIGN)},
            timeout=1800,
        )
    except httpx.HTTPError as exc:
        return 0, time.monotonic() - started, f"{type(exc).__name__}: {exc}"
    detail = "" if response.status_code == 201 else response.text[:200]
    return response.status_code, time.monotonic() - started, detail


async def _measure(
    base_url: str, settings: Settings, keys: list[str], *, rows: int, rate: float, baseline: float
) -> RunResult:
    files = [campaign_csv(rows, area_code=AREA_CODES[n % len(AREA_CODES)]) for n in range(len(keys))]
    token = twilio_auth_token(settings)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        stop = asyncio.Event()
        load = asyncio.create_task(_voice_load(http, token, settings.public_base_url, rate=rate, stop=stop))
        await asyncio.sleep(baseline)
        uploads_from = time.monotonic()
        outcomes = await asyncio.gather(*(_upload(http, key, body) for key, body in zip(keys, files, strict=True)))
        uploads_to = time.monotonic()
        stop.set()
        samples, errors = await load
    return RunResult(
        baseline_ms=[ms for sent, ms in samples if sent < uploads_from],
        during_ms=[ms for sent, ms in samples if uploads_from <= sent <= uploads_to],
        upload_status=[status for status, _, _ in outcomes],
        upload_seconds=[seconds for _, seconds, _ in outcomes],
        voice_errors=errors,
        upload_details=[detail for _, _, detail in outcomes if detail],
    )


def run_once(settings: Settings, *, uploads: int, rows: int, rate: float, baseline: float) -> RunResult:
    if not settings.database_url.startswith("postgresql"):
        raise click.ClickException("the uploads benchmark needs PostgreSQL: set DATABASE_URL")
    port = _free_port()
    with scratch_database(settings) as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": settings.secret_key,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "WARM_UP_VOICE": "false",
            "LOG_LEVEL": "WARNING",
            "MALLOC_ARENA_MAX": "2",  # as the Procfile runs the web process
        }
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            env.pop(name, None)
        bench_settings = load_settings(env)
        upgrade(bench_settings)
        keys = _seed(bench_settings, uploads=uploads)
        command = ["uvicorn", "seiketsu.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
                   "--log-level", "warning", "--no-access-log"]  # fmt: skip
        app = subprocess.Popen([sys.executable, "-m", *command], env=env)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_healthy(base_url, app)
            return asyncio.run(_measure(base_url, bench_settings, keys, rows=rows, rate=rate, baseline=baseline))
        finally:
            _stop(app)


@click.command("uploads")
@click.option("--uploads", default=4, show_default=True, help="concurrent CSV uploads, one per organization")
@click.option("--rows", default=50_000, show_default=True, help="rows of each CSV")
@click.option("--rate", default=20.0, show_default=True, help="inbound-call webhooks a second")
@click.option("--baseline", default=5.0, show_default=True, help="seconds of webhooks alone before the uploads")
@click.option("--runs", default=1, show_default=True, help="runs; medians are reported")
def command(uploads: int, rows: int, rate: float, baseline: float, runs: int) -> None:
    """POST /twilio/voice latency alone and during concurrent campaign CSV uploads (target: p99 <= 100 ms)."""
    settings = load_settings()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    click.echo(f"{uploads} uploads of {rows:,} rows, {rate:g} voice webhooks/s; load average {load}")
    results = []
    for run in range(1, runs + 1):
        result = run_once(settings, uploads=uploads, rows=rows, rate=rate, baseline=baseline)
        results.append(result)
        s = result.summary()
        click.echo(
            f"run {run}: /twilio/voice alone p50 {s['baseline_p50_ms']:.1f} ms, p99 {s['baseline_p99_ms']:.1f} ms"
            f" ({len(result.baseline_ms)}); during the uploads p50 {s['during_p50_ms']:.1f} ms,"
            f" p99 {s['during_p99_ms']:.1f} ms, max {s['during_max_ms']:.1f} ms ({len(result.during_ms)});"
            f" webhook errors {result.voice_errors}; uploads {result.upload_status}"
            f" in {', '.join(f'{t:.1f}' for t in result.upload_seconds)} s"
        )
        for detail in result.upload_details[:3]:
            click.echo(f"  upload refused: {detail}")
    keys = ("baseline_p99_ms", "during_p50_ms", "during_p99_ms", "during_max_ms", "uploads_seconds_max")
    if runs > 1:
        click.echo(
            "medians: " + ", ".join(f"{k} {statistics.median(r.summary()[k] for r in results):.1f}" for k in keys)
        )
    worst = max(r.summary()["during_p99_ms"] for r in results)
    click.echo(
        f"/twilio/voice p99 during the uploads {'<=' if worst <= 100 else '>'} 100 ms (worst run {worst:.1f} ms)"
    )
