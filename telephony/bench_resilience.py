"""``seiketsu bench resilience``: ``/twilio/voice`` latency while Redis is up, paused (SIGSTOP) and dead.

The server is the real app in its own process (``telephony.bench_server``, as ``seiketsu bench calls`` runs it)
with ``REDIS_URL`` pointing at a redis-server of the benchmark's own, so the shared one is never paused. Three
kinds of traffic run together in each phase: signed ``/twilio/voice`` requests at a fixed rate (Twilio ringing
calls in), API clients back to back with an API key (each request takes a rate-limit token from Redis, or the
local fallback), and ``/healthz`` probes. Each phase reports answers, statuses and latency percentiles.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import click
import httpx

from seiketsu.settings import load_settings
from telephony.bench import NUMBER, _free_port, _prepare, _start_server, percentile
from telephony.runtime import twilio_auth_token
from telephony.signatures import compute_twilio_signature

PHASES = ("up", "paused", "dead")
WARM_UP = 3.0
"""Seconds of the same traffic before the first phase, not reported (first requests build caches and pools)."""


class Samples:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()

    def add(self, seconds: float, status: str) -> None:
        self.latencies.append(seconds)
        self.statuses[status] += 1

    def report(self) -> dict[str, Any]:
        ms = [s * 1000 for s in self.latencies]
        return {
            "answered": sum(n for s, n in self.statuses.items() if s.isdigit()),
            "statuses": dict(sorted(self.statuses.items())),
            "p50_ms": round(percentile(ms, 50) or 0, 1),
            "p99_ms": round(percentile(ms, 99) or 0, 1),
            "max_ms": round(max(ms, default=0), 1),
        }


async def _timed(http: httpx.AsyncClient, samples: Samples, method: str, url: str, **kwargs: Any) -> None:
    started = time.perf_counter()
    try:
        response = await http.request(method, url, **kwargs)
        status = str(response.status_code)
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    samples.add(time.perf_counter() - started, status)


async def _phase(base: str, *, token: str, api_key: str, seconds: float, rate: float, clients: int) -> dict[str, Any]:
    voice, api, health = Samples(), Samples(), Samples()
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=15.0, limits=httpx.Limits(max_connections=200)) as http:

        async def ring() -> None:
            tasks = []
            while time.monotonic() < deadline:
                params = {"CallSid": "CA" + uuid.uuid4().hex, "From": "+15125550199", "To": NUMBER}
                signature = compute_twilio_signature(token, base + "/twilio/voice", params)
                headers = {"X-Twilio-Signature": signature}
                tasks.append(
                    asyncio.create_task(
                        _timed(http, voice, "POST", base + "/twilio/voice", data=params, headers=headers)
                    )
                )
                await asyncio.sleep(1 / rate)
            await asyncio.gather(*tasks)

        async def use_api() -> None:
            while time.monotonic() < deadline:
                await _timed(http, api, "GET", base + "/api/v1/leads?limit=5", headers={"X-API-Key": api_key})

        async def probe() -> None:
            while time.monotonic() < deadline:
                await _timed(http, health, "GET", base + "/healthz")
                await asyncio.sleep(0.25)

        await asyncio.gather(ring(), probe(), *(use_api() for _ in range(clients)))
    return {"voice": voice.report(), "api": api.report(), "healthz": health.report()}


def _readiness(base: str) -> str:
    try:
        ready = httpx.get(base + "/readyz", timeout=15).json()
    except httpx.HTTPError as exc:
        return f"no answer ({type(exc).__name__})"
    return str(ready.get("status", ready.get("title")))


def _redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise click.ClickException("the resilience benchmark needs redis-server on PATH")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return process


@click.command()
@click.option("--seconds", default=20.0, show_default=True, help="length of each phase (up, paused, dead)")
@click.option("--rate", default=4.0, show_default=True, help="/twilio/voice requests a second")
@click.option("--api-clients", default=4, show_default=True, help="API clients sending requests back to back")
@click.option("--database-url", required=True, help="an empty PostgreSQL database to use (postgresql+psycopg://...)")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def command(seconds: float, rate: float, api_clients: int, database_url: str, json_path: Path | None) -> None:
    """/twilio/voice, API and /healthz latency with a private Redis up, paused (SIGSTOP), then dead."""
    port, redis_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "ERROR",
        "WARM_UP_VOICE": "0",
        "MALLOC_ARENA_MAX": "2",
    }
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    redis = _redis(redis_port)
    try:
        api_key = _prepare(env)
        server, _ = _start_server(env, port)
        token = twilio_auth_token(load_settings(env))
        base = f"http://127.0.0.1:{port}"
        report: dict[str, Any] = {}
        try:
            asyncio.run(_phase(base, token=token, api_key=api_key, seconds=WARM_UP, rate=rate, clients=api_clients))
            for phase in PHASES:
                if phase == "paused":
                    os.kill(redis.pid, signal.SIGSTOP)
                elif phase == "dead":
                    os.kill(redis.pid, signal.SIGCONT)
                    redis.kill()
                report[phase] = asyncio.run(
                    _phase(base, token=token, api_key=api_key, seconds=seconds, rate=rate, clients=api_clients)
                )
                report[phase]["readyz"] = _readiness(base)
        finally:
            server.terminate()
            server.wait(10)
    finally:
        if redis.poll() is None:
            os.kill(redis.pid, signal.SIGCONT)
            redis.kill()
        redis.wait(10)
    for phase, figures in report.items():
        click.echo(f"{phase:>7}: readyz {figures['readyz']}")
        for kind in ("voice", "api", "healthz"):
            click.echo(f"{'':>9}{kind:>8}: {figures[kind]}")
    if json_path:
        json_path.write_text(json.dumps(report, indent=2))
