"""``seiketsu bench calls``: N concurrent simulated calls against one server process.

The server is the real app in its own process (``telephony.bench_server``), with speech providers of fixed
latency, so what is measured is the platform's own cost: per-turn overhead (first audio out minus endpointing
and provider time), greeting latency, barge-in reaction (caller speech onset to ``clear``), inbound frame lag,
dropped frames, CPU and memory per call. ``--soak`` runs waves of calls back to back and tracks memory.

Each caller does what Twilio and generic clients do to the server: a signed voice webhook, a media stream opened
with a signature and (unless ``--no-ws-compression``) an offer of per-message deflate, and once the stream has
ended a signed ``completed`` status callback.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx
import sqlalchemy as sa
from sqlmodel import col

from agent.providers.piper_tts import PiperTTS
from seiketsu.gc_tuning import freeze_startup_objects
from seiketsu.settings import load_settings
from telephony.runtime import twilio_auth_token
from telephony.simulator import (
    AwaitAgentAudio,
    AwaitReply,
    CallResult,
    EspeakNgVoice,
    Silence,
    SimulatorConfig,
    Step,
    Utterance,
    simulate_call,
)
from telephony.simulator.script import CallerVoice
from telephony.simulator.voices import TextToSpeechVoice

NUMBER = "+15125550100"
LINES = ("I want to sell my condo in Austin next spring.", "It is a two bedroom near downtown.")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class ServerProcess:
    pid: int
    base_url: str

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{self.pid}/status").read_text())
        return int(match.group(1)) / 1024 if match else 0.0

    async def heap_trims(self, http: httpx.AsyncClient) -> float:
        """How many passes the server's heap trimmer has made (``seiketsu_malloc_trim_seconds_count``)."""
        metrics = (await http.get(self.base_url + "/metrics")).text
        match = re.search(r"^seiketsu_malloc_trim_seconds_count (\S+)$", metrics, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    async def settled_rss_mb(self, http: httpx.AsyncClient, *, wait: float) -> float:
        """The resident size once the heap trimmer has made a pass after this moment (waiting at most ``wait``
        s): the server trims after a burst of call ends, so the reading does not depend on when its last
        periodic pass happened to run."""
        before = await self.heap_trims(http)
        for _ in range(int(wait / 0.1)):
            if await self.heap_trims(http) > before:
                break
            await asyncio.sleep(0.1)
        return self.rss_mb()


@dataclass
class Wave:
    results: list[CallResult]
    cpu_seconds: float
    wall_seconds: float
    rss_after_mb: float
    ended_at: float
    """``time.monotonic()`` when the memory was read."""
    failures: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _prepare(env: dict[str, str], *, org_settings: dict[str, Any] | None = None) -> str:
    """Migrate the bench database and create the brokerage (in this process, with the server's settings); returns
    an API key of the brokerage."""
    from seiketsu.auth.service import create_api_key
    from seiketsu.container import build_container
    from seiketsu.migrate import upgrade
    from seiketsu.tenancy.models import Role
    from seiketsu.tenancy.scoping import system_session
    from seiketsu.tenancy.service import create_organization

    settings = load_settings(env)
    upgrade(settings)
    container = build_container(settings)
    try:
        with system_session(container.sessions) as session:
            created = create_organization(
                session,
                container.passwords,
                name="Bench Realty",
                slug=f"bench-{secrets.token_hex(3)}",
                admin_email="bench@bench.example",
                numbers=(NUMBER,),
                settings=org_settings,
            )
            created.organization.max_concurrent_calls = 10_000
            issued = create_api_key(
                session, organization_id=created.organization.id, name="bench", role=Role.ORG_ADMIN, created_by=None
            )
            session.commit()
            return issued.key
    finally:
        container.close()


def server_env(*, database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The bench server's environment: embedded mode (no Redis, no Twilio account), warmed voice."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "WARM_UP_VOICE": "1",
        "MALLOC_ARENA_MAX": "2",  # as the Procfile runs the web process
        **extra,
    }
    for name in ("REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    return env


def _start_server(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], ServerProcess]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "telephony.bench_server:create_bench_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--ws-max-size",
        "1048576",
    ]
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException("the bench server exited during start-up")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, ServerProcess(process.pid, base)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise click.ClickException("the bench server did not start within 120 s")


async def _utterances(*, natural: bool) -> list[Utterance]:
    """The caller's lines: espeak-ng (fast) for the fixed-latency fakes; for the local recognizer, the Piper
    voice, whose speech it understands far better than espeak-ng's."""
    if not natural:
        voice: CallerVoice = EspeakNgVoice()
        return [Utterance.from_pcm(await voice.synthesize(line), line) for line in LINES]
    tts = PiperTTS(deterministic=True)
    try:
        voice = TextToSpeechVoice(tts)
        return [Utterance.from_pcm(await voice.synthesize(line), line) for line in LINES]
    finally:
        await tts.aclose()


def _script(utterances: list[Utterance], turns: int, barge_in: bool, *, settle: float = 0.3) -> list[Step]:
    """``settle``: the line's silence that tells the caller the reply is over (longer than any silence the
    agent may leave within a reply, or the caller talks over its fallback)."""
    steps: list[Step] = [AwaitReply(timeout=15, settle=0.3)]
    for turn in range(turns):
        steps += [utterances[turn % len(utterances)], AwaitReply(timeout=15, settle=settle)]
    if barge_in:
        steps += [utterances[0], AwaitAgentAudio(timeout=15), Silence(0.5), utterances[1], Silence(1.0 + settle)]
    return steps


async def _calls(config: SimulatorConfig, script: list[Step], calls: int, stagger: float) -> list[CallResult | str]:
    async with httpx.AsyncClient(timeout=config.open_timeout) as http:  # one client: no TLS set-up per call

        async def one(delay: float) -> CallResult | str:
            await asyncio.sleep(delay)
            try:
                return await simulate_call(config, script, http=http)
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"

        return list(await asyncio.gather(*(one(random.uniform(0, stagger)) for _ in range(calls))))


def _calls_in_child(config: SimulatorConfig, script: list[Step], calls: int, stagger: float) -> list[CallResult | str]:
    """One caller process's share of a wave."""
    freeze_startup_objects()  # the simulator's own full collections would show as the server's latency
    return asyncio.run(_calls(config, script, calls, stagger))


async def _wave(
    server: ServerProcess,
    callers: ProcessPoolExecutor,
    shares: list[int],
    config: SimulatorConfig,
    script: list[Step],
    stagger: float,
    stored_calls: StoredCalls,
    http: httpx.AsyncClient,
    trim_wait: float,
) -> Wave:
    """One wave of calls, played by the caller processes (``shares``: how many calls each plays).

    The server's memory is read once it has stored every call of the wave (a call is saved after its stream
    closes) and its heap trimmer has made its pass after those call ends (at most ``trim_wait`` s), so each
    reading is taken at the same point between waves, not while the last calls are being saved.
    """
    loop = asyncio.get_running_loop()
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    parts = await asyncio.gather(
        *(loop.run_in_executor(callers, _calls_in_child, config, script, n, stagger) for n in shares)
    )
    outcomes = [outcome for part in parts for outcome in part]
    cpu, wall = server.cpu_seconds() - cpu0, time.monotonic() - t0
    await stored_calls.wait_for(len(outcomes))
    rss = await server.settled_rss_mb(http, wait=trim_wait) if trim_wait > 0 else server.rss_mb()
    return Wave(
        results=[o for o in outcomes if not isinstance(o, str)],
        cpu_seconds=cpu,
        wall_seconds=wall,
        rss_after_mb=rss,
        ended_at=time.monotonic(),
        failures=[o for o in outcomes if isinstance(o, str)],
    )


class StoredCalls:
    """Counts the calls the server has finished saving (outcome set), for reading its memory between waves."""

    def __init__(self, env: dict[str, str], *, timeout: float = 15.0) -> None:
        from seiketsu.container import build_container

        self._container = build_container(load_settings(env))
        self._timeout = timeout
        self._expected = self.count()  # a reused bench database already holds earlier runs' calls

    def count(self) -> int:
        from seiketsu.tenancy.scoping import system_session
        from telephony.models import Call

        with system_session(self._container.sessions) as session:
            return int(session.scalar(sa.select(sa.func.count()).where(col(Call.outcome).is_not(None))) or 0)

    async def wait_for(self, calls: int) -> None:
        """Until ``calls`` more calls are stored than at the last wait (at most ``timeout`` seconds)."""
        self._expected += calls
        for _ in range(int(self._timeout / 0.1)):
            if await asyncio.to_thread(self.count) >= self._expected:
                return
            await asyncio.sleep(0.1)

    def close(self) -> None:
        self._container.close()


def _histogram_quantile(metrics: str, name: str, q: float, labels: str = "") -> float | None:
    """``labels`` selects one series: its labels as the exposition writes them after ``le``, e.g. 'route="/x"'."""
    selector = f",{re.escape(labels)}" if labels else ""
    buckets = [
        (float(le), float(count))
        for le, count in re.findall(
            rf'^{name}_bucket{{le="([^"]+)"{selector}}} (\S+)$', metrics, re.MULTILINE
        )
    ]
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    for le, count in buckets:
        if count >= q * total:
            return le
    return float("inf")


def _quantile_ms(metrics: str, name: str, q: float, labels: str = "") -> float:
    """A histogram's quantile as the upper bound of its bucket, in milliseconds."""
    return (_histogram_quantile(metrics, name, q, labels) or 0) * 1000


def _overheads(env: dict[str, str]) -> list[float]:
    from seiketsu.container import build_container
    from seiketsu.tenancy.scoping import system_session
    from telephony.models import Call

    container = build_container(load_settings(env))
    try:
        with system_session(container.sessions) as session:
            rows = session.scalars(sa.select(col(Call.latencies)).where(col(Call.outcome).is_not(None)))
            return [t["overhead_ms"] for latencies in rows for t in latencies if t.get("overhead_ms") is not None]
    finally:
        container.close()


def _stored_failures(env: dict[str, str]) -> list[str]:
    """Every provider failure the stored calls name ("dialog bench-dialog: TimeoutError after 1620 ms")."""
    from seiketsu.container import build_container
    from seiketsu.tenancy.scoping import system_session
    from telephony.models import Call

    container = build_container(load_settings(env))
    try:
        with system_session(container.sessions) as session:
            rows = session.scalars(sa.select(col(Call.provider_failures)).where(col(Call.outcome).is_not(None)))
            return [failure for failures in rows for failure in failures]
    finally:
        container.close()


def _silences(results: list[CallResult], failures: list[str]) -> dict[str, Any]:
    """The longest silence each caller heard per turn, and what the agent's fallbacks cost."""
    silences = [t.longest_silence for r in results for t in r.turns if t.longest_silence is not None]
    costs = [float(m.group(1)) for f in failures if (m := re.search(r" after (\d+) ms$", f))]
    return {
        "longest_silence_p50_ms": (percentile(silences, 50) or 0) * 1000,
        "longest_silence_p99_ms": (percentile(silences, 99) or 0) * 1000,
        "longest_silence_max_ms": max(silences, default=0) * 1000,
        "provider_failures": len(failures),
        "provider_failure_cost_p50_ms": percentile(costs, 50),
    }


def _report(waves: list[Wave], *, calls: int, metrics: str, overheads: list[float], rss_start: float) -> dict[str, Any]:
    results = [r for w in waves for r in w.results]
    greetings = [r.greeting_latency for r in results if r.greeting_latency is not None]
    replies = [t.reply_latency for r in results for t in r.turns if t.reply_latency is not None]
    barge = [b.reaction for r in results for b in r.barge_ins if b.reaction is not None]
    call_seconds = sum(r.duration for r in results)
    cpu = sum(w.cpu_seconds for w in waves)
    frames_in = re.search(r"^seiketsu_media_frames_total (\S+)$", metrics, re.MULTILINE)
    frames_sent = sum(r.frames_sent for r in results)
    report = {
        "calls": len(results),
        "concurrency": calls,
        "failed_calls": sum(len(w.failures) for w in waves),
        "failures": [f for w in waves for f in w.failures][:5],
        "turns_answered": len(replies),
        "turns_expected": sum(len(r.turns) for r in results),
        "greeting_p50_ms": (percentile(greetings, 50) or 0) * 1000,
        "greeting_p99_ms": (percentile(greetings, 99) or 0) * 1000,
        "server_greeting_p50_ms_at_most": _quantile_ms(metrics, "seiketsu_greeting_latency_seconds", 0.5),
        "server_greeting_p99_ms_at_most": _quantile_ms(metrics, "seiketsu_greeting_latency_seconds", 0.99),
        "reply_after_speech_p50_ms": (percentile(replies, 50) or 0) * 1000,
        "reply_after_speech_p99_ms": (percentile(replies, 99) or 0) * 1000,
        "overhead_p50_ms": percentile(overheads, 50),
        "overhead_p99_ms": percentile(overheads, 99),
        "barge_in_p50_ms": (percentile(barge, 50) or 0) * 1000,
        "barge_in_p95_ms": (percentile(barge, 95) or 0) * 1000,
        "caller_send_lag_p99_ms": (percentile([r.max_send_lag for r in results], 99) or 0) * 1000,
        "frame_lag_p99_ms_at_most": _quantile_ms(metrics, "seiketsu_media_frame_lag_seconds", 0.99),
        "voice_webhook_p99_ms_at_most": _quantile_ms(
            metrics, "seiketsu_http_request_duration_seconds", 0.99, 'method="POST",route="/twilio/voice"'
        ),
        "frames_sent": frames_sent,
        "frames_received": int(float(frames_in.group(1))) if frames_in else None,
        "protocol_errors": sum(r.protocol_errors for r in results),
        "cpu_ms_per_call_second": 1000 * cpu / call_seconds if call_seconds else None,
        "rss_start_mb": rss_start,
        "rss_after_each_wave_mb": [round(w.rss_after_mb, 1) for w in waves],
    }
    return report


async def _run(
    env: dict[str, str],
    server: ServerProcess,
    *,
    calls: int,
    turns: int,
    soak: float,
    local: bool,
    processes: int,
    warm_up_waves: int,
    settle: float,
    ws_compression: bool,
) -> dict[str, Any]:
    settings = load_settings(env)
    config = SimulatorConfig(
        server_url=server.base_url,
        auth_token=twilio_auth_token(settings),
        from_number="+15125550199",
        to_number=NUMBER,
        public_base_url=settings.public_base_url,
        stream_base_url=server.base_url.replace("http://", "ws://"),
        status_path="/twilio/status",
        compression=ws_compression,
        max_duration=120,
    )
    script = _script(await _utterances(natural=local), turns, barge_in=True, settle=settle)
    rss_start = server.rss_mb()
    shares = [calls // processes + (1 if i < calls % processes else 0) for i in range(processes)]
    shares = [n for n in shares if n]
    stagger = min(2.0, calls * 0.02)
    trim_interval = settings.malloc_trim_interval_seconds
    trim_wait = trim_interval + 2 if trim_interval > 0 else 0.0
    with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("spawn")) as callers:
        stored_calls = StoredCalls(env)
        try:
            async with httpx.AsyncClient() as http:
                waves = [await _wave(server, callers, shares, config, script, stagger, stored_calls, http, trim_wait)]
                deadline = time.monotonic() + soak
                while time.monotonic() < deadline:
                    waves.append(
                        await _wave(server, callers, shares, config, script, stagger, stored_calls, http, trim_wait)
                    )
                metrics = (await http.get(server.base_url + "/metrics")).text
        finally:
            stored_calls.close()
    report = _report(waves, calls=calls, metrics=metrics, overheads=_overheads(env), rss_start=rss_start)
    report |= _silences([r for w in waves for r in w.results], _stored_failures(env))
    return report | memory_growth([(w.ended_at, w.rss_after_mb) for w in waves], warm_up_waves=warm_up_waves)


def memory_growth(readings: list[tuple[float, float]], *, warm_up_waves: int) -> dict[str, Any]:
    """How the server's memory moved over a soak, from (time, MB) readings after each wave.

    Counted from the first wave and from the end of the warm-up (the first ``warm_up_waves`` waves, while the
    allocators reach the working set of the wave's concurrent calls); the slope is a least-squares fit after it.
    """
    figures: dict[str, Any] = {"rss_warm_up_waves": warm_up_waves}
    if len(readings) >= 2:
        figures["rss_growth_first_to_last_mb"] = round(readings[-1][1] - readings[0][1], 1)
    soak = readings[max(0, warm_up_waves - 1) :]
    if warm_up_waves >= 1 and len(soak) >= 2:
        figures["rss_growth_after_warm_up_mb"] = round(soak[-1][1] - soak[0][1], 1)
        figures["rss_minutes_after_warm_up"] = round((soak[-1][0] - soak[0][0]) / 60, 1)
        times = [t for t, _ in soak]
        values = [v for _, v in soak]
        mean_t, mean_v = sum(times) / len(times), sum(values) / len(values)
        spread = sum((t - mean_t) ** 2 for t in times)
        slope = sum((t - mean_t) * (v - mean_v) for t, v in soak) / spread if spread else 0.0
        figures["rss_slope_mb_per_10_min_after_warm_up"] = round(slope * 600, 2)
    return figures


@click.command()
@click.option("--calls", default=10, show_default=True, help="concurrent calls per wave")
@click.option("--turns", default=2, show_default=True, help="caller turns per call (plus one barge-in)")
@click.option("--stt-ms", default=150, show_default=True)
@click.option("--dialog-ms", default=200, show_default=True)
@click.option("--tts-ms", default=100, show_default=True)
@click.option("--local", is_flag=True, help="use the real local providers (Whisper, scripted dialog, Piper)")
@click.option(
    "--stall",
    type=click.Choice(["stt", "dialog", "tts"]),
    default=None,
    help="this provider stalls on every --stall-every-th turn (local fallbacks take over)",
)
@click.option("--stall-every", default=5, show_default=True, help="with --stall: 5 stalls one turn in five")
@click.option(
    "--stall-at",
    type=click.Choice(["start", "midway"]),
    default="start",
    show_default=True,
    help="with --stall: before the first token or byte, or after the first sentence or audio",
)
@click.option(
    "--caller-processes",
    default=2,
    show_default=True,
    help="processes playing the callers (one Python process cannot keep 100 callers in real time)",
)
@click.option("--soak", default=0.0, show_default=True, help="seconds of back-to-back waves after the first")
@click.option(
    "--warm-up-waves",
    default=3,
    show_default=True,
    help="waves counted as the soak's warm-up: memory growth is also reported from the last of them",
)
@click.option(
    "--ws-compression/--no-ws-compression",
    default=True,
    show_default=True,
    help="callers offer per-message deflate on the media stream (the default of generic WebSocket clients)",
)
@click.option("--database-url", default=None, help="an empty database to use (default: a temporary SQLite file)")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def command(
    calls: int,
    turns: int,
    stt_ms: int,
    dialog_ms: int,
    tts_ms: int,
    local: bool,
    stall: str | None,
    stall_every: int,
    stall_at: str,
    caller_processes: int,
    soak: float,
    warm_up_waves: int,
    ws_compression: bool,
    database_url: str | None,
    json_path: Path | None,
) -> None:
    """Concurrent simulated calls against one server process; prints latency, CPU and memory figures."""
    with tempfile.TemporaryDirectory(prefix="seiketsu-bench-") as workdir:
        port = _free_port()
        env = server_env(
            database_url=database_url or f"sqlite:///{workdir}/bench.db",
            port=port,
            BENCH_STT_MS=str(stt_ms),
            BENCH_DIALOG_MS=str(dialog_ms),
            BENCH_TTS_MS=str(tts_ms),
            BENCH_LOCAL="1" if local else "0",
            BENCH_STALL=stall or "",
            BENCH_STALL_EVERY=str(stall_every if stall else 0),
            BENCH_STALL_AT=stall_at,
        )
        _prepare(env)
        process, server = _start_server(env, port)
        try:
            report = asyncio.run(
                _run(
                    env,
                    server,
                    calls=calls,
                    turns=turns,
                    soak=soak,
                    local=local,
                    processes=caller_processes,
                    warm_up_waves=warm_up_waves,
                    settle=2.0 if stall else 0.3,
                    ws_compression=ws_compression,
                )
            )
        finally:
            process.terminate()
            process.wait(10)
    report["caller_processes"] = caller_processes
    report["ws_compression"] = ws_compression
    report["providers"] = "local" if local else f"fixed stt={stt_ms}ms dialog={dialog_ms}ms tts={tts_ms}ms"
    if stall:
        report["stalling"] = f"{stall} on 1 turn in {stall_every}, at its {stall_at}"
    for key, value in report.items():
        click.echo(f"{key:>28}: {value}")
    if json_path:
        json_path.write_text(json.dumps(report, indent=2))
