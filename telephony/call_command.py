"""``seiketsu call``: play Twilio's part against a running server and show what happened on the call."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click
import httpx
import sqlalchemy as sa
from sqlmodel import col

from agent.providers.piper_tts import PiperTTS
from seiketsu.settings import Settings
from telephony.models import Call, TranscriptLine
from telephony.runtime import twilio_auth_token
from telephony.simulator import (
    CallResult,
    EspeakNgVoice,
    SimulatorConfig,
    SimulatorError,
    Step,
    script_from_lines,
    script_from_wav,
    simulate_call,
)
from telephony.simulator.script import CallerVoice
from telephony.simulator.voices import TextToSpeechVoice


def _voice(name: str) -> CallerVoice:
    if name == "espeak":
        return EspeakNgVoice()
    return TextToSpeechVoice(PiperTTS(deterministic=True))


REACH_TIMEOUT_SECONDS = 2.0


async def _check_reachable(server_url: str) -> None:
    """Fail at once when no server listens, before the caller's lines are synthesized (which takes seconds)."""
    try:
        async with httpx.AsyncClient(timeout=REACH_TIMEOUT_SECONDS) as http:
            await http.get(f"{server_url}/healthz")
    except httpx.HTTPError as exc:
        raise SimulatorError(f"no server answers at {server_url} ({exc!r}): start one with `make run`") from exc


async def _run(config: SimulatorConfig, lines: list[str], wav: Path | None, voice: str) -> CallResult:
    await _check_reachable(config.server_url)
    script: list[Step] = script_from_wav(wav) if wav else await script_from_lines(lines, _voice(voice))
    return await simulate_call(config, script)


def _show_result(result: CallResult) -> None:
    click.echo(f"call {result.call_sid}: ended by {result.ended_by} after {result.duration:.1f} s")
    if result.greeting_latency is not None:
        click.echo(f"greeting: first audio {result.greeting_latency * 1000:.0f} ms after the stream started")
    for number, turn in enumerate(result.turns, start=1):
        latency = f"{turn.reply_latency * 1000:.0f} ms" if turn.reply_latency is not None else "no reply"
        click.echo(f"turn {number}: reply {latency} after the caller stopped ({turn.text!r})")
    for barge in result.barge_ins:
        reaction = f"{barge.reaction * 1000:.0f} ms" if barge.reaction is not None else "no clear"
        click.echo(f"barge-in: cleared {reaction} after speech onset")
    if result.recording:
        click.echo(f"agent audio saved to {result.recording}")


def _show_record(settings: Settings, call_sid: str, *, wait: float = 10.0) -> None:
    """Print the stored transcript, qualification and latencies (when this installation's database has them)."""
    from seiketsu.container import build_container
    from seiketsu.tenancy.scoping import system_session

    container = build_container(settings)
    try:
        deadline = time.monotonic() + wait
        while True:
            with system_session(container.sessions) as session:
                call = session.scalars(sa.select(Call).where(col(Call.call_sid) == call_sid)).one_or_none()
                lines = (
                    list(
                        session.scalars(
                            sa.select(TranscriptLine)
                            .where(col(TranscriptLine.call_id) == call.id)
                            .order_by(col(TranscriptLine.seq))
                        )
                    )
                    if call is not None and call.outcome is not None
                    else []
                )
            if (call is not None and call.outcome is not None) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        container.close()
    if call is None:
        click.echo("(the call is not in this installation's database)")
        return
    click.echo(f"\noutcome: {call.outcome}   call id: {call.id}")
    for line in lines:
        cut = " [interrupted]" if line.interrupted else ""
        click.echo(f"  {line.start_ms / 1000:6.1f}s {line.speaker:>6}: {line.text}{cut}")
    if call.qualification:
        click.echo("qualification: " + ", ".join(f"{k}={v}" for k, v in call.qualification.items()))
    for turn in call.latencies:
        parts = [f"{k.removesuffix('_ms')}={v:.0f}ms" for k, v in turn.items() if k.endswith("_ms") and v is not None]
        click.echo(f"latency turn {turn.get('turn')}: " + " ".join(parts))


def run_call(
    settings: Settings,
    *,
    url: str,
    to_number: str,
    from_number: str,
    lines: list[str],
    wav: Path | None,
    voice: str,
    record: Path | None,
) -> None:
    base = url.rstrip("/")
    config = SimulatorConfig(
        server_url=base,
        auth_token=twilio_auth_token(settings),
        from_number=from_number,
        to_number=to_number,
        public_base_url=settings.public_base_url,
        stream_base_url=base.replace("https://", "wss://").replace("http://", "ws://"),
        status_path="/twilio/status",
        record_path=record,
    )
    try:
        result = asyncio.run(_run(config, lines, wav, voice))
    except SimulatorError as exc:
        raise click.ClickException(str(exc)) from exc
    _show_result(result)
    _show_record(settings, result.call_sid)


def default_inbound_number(settings: Settings) -> str | None:
    from seiketsu.container import build_container
    from seiketsu.tenancy.models import NumberPurpose, PhoneNumber
    from seiketsu.tenancy.scoping import system_session

    container = build_container(settings)
    try:
        with system_session(container.sessions) as session:
            query = (
                sa.select(col(PhoneNumber.e164))
                .where(col(PhoneNumber.purpose) != NumberPurpose.OUTBOUND)
                .order_by(col(PhoneNumber.created_at))
            )
            return session.scalars(query).first()
    finally:
        container.close()
