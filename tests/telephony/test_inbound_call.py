"""A whole inbound call on the local providers: real speech through the real codec, over a real server."""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import col
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.server import ServerProtocol

from agent.providers.piper_tts import PiperTTS
from seiketsu.app import create_app
from seiketsu.cli import main
from seiketsu.container import Container, build_container
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session
from telephony.models import Call, TranscriptLine
from telephony.simulator import AwaitReply, Silence, Step, script_from_lines, simulate_call
from telephony.simulator.voices import TextToSpeechVoice
from tests.conftest import fast_passwords
from tests.faults import free_port
from tests.servers import serve
from tests.telephony.conftest import FakeSpeech, hang_up_after, local_caller, voice_org


async def test_a_caller_is_heard_qualified_and_recorded(container: Container, tmp_path) -> None:
    voice_org(container)
    container.jobs.registry.register("test.on_call_completed", lambda context: None)
    container.events.subscribe("call.completed", "test.on_call_completed")
    app = create_app(container.settings, container=container)
    caller_voice = PiperTTS(deterministic=True)
    script = await script_from_lines(
        ["Hi, I want to sell my condo next spring."], TextToSpeechVoice(caller_voice), reply_timeout=20
    )
    async with serve(app) as port:
        result = await simulate_call(local_caller(container, port, record_path=tmp_path / "agent.wav"), script)
    await caller_voice.aclose()
    assert result.protocol_errors == 0
    assert result.greeting_latency is not None
    assert result.turns and result.turns[0].reply_latency is not None
    assert (tmp_path / "agent.wav").stat().st_size > 8000

    with system_session(container.sessions) as session:
        call = session.scalars(sa.select(Call)).one()
        lines = list(session.scalars(sa.select(TranscriptLine).order_by(col(TranscriptLine.seq))))
        lead = session.get(Lead, call.lead_id)
        jobs = list(session.scalars(sa.select(Job).where(col(Job.name) == "test.on_call_completed")))
    caller_lines = [line for line in lines if line.speaker == "caller"]
    caller_text = " ".join(line.text for line in caller_lines).lower()
    # The caller's voice is synthesized without Piper's sampling noise, so the recognizer hears the same thing
    # every run.
    assert "sell my condo next spring" in caller_text
    assert any(line.speaker == "agent" and line.seq > caller_lines[0].seq for line in lines), "the agent replied"
    assert call.qualification.get("property_type") == "condo" and call.qualification.get("timeline") == "next spring"
    assert call.qualification.get("intent") == "sell"
    assert call.outcome is not None and call.latencies
    assert lead is not None and lead.qualification.get("property_type") == "condo"
    assert len(jobs) == 1


async def test_a_stream_the_caller_closes_first_is_still_recorded(
    container: Container, fake_speech: FakeSpeech
) -> None:
    """Over a real server the close handshake races the caller's own close; the record must not depend on it."""
    voice_org(container)
    app = create_app(container.settings, container=container)
    container.extras["telephony"].speech = fake_speech
    async with serve(app) as port:
        await hang_up_after(container, port, frames=1)


def _stored_calls(container: Container) -> int:
    with system_session(container.sessions) as session:
        return len(list(session.scalars(sa.select(col(Call.id)).where(col(Call.outcome).is_not(None)))))


def _websocket_states() -> list[str]:
    """WebSocket protocol objects of the server's streams and compression contexts (the callers' too: they share
    this process), alive or awaiting the cycle collector."""
    kinds = (ServerProtocol, PerMessageDeflate)
    return [type(o).__name__ for o in gc.get_objects() if issubclass(type(o), kinds)]  # (no isinstance: proxies)


async def test_finished_media_streams_leave_no_websocket_state_for_a_later_full_collection(
    container: Container, fake_speech: FakeSpeech
) -> None:
    """uvicorn keeps each media stream's WebSocket protocol in a reference cycle (its frame parser refers back to
    it), with the zlib contexts of a client's per-message deflate (about 50 KB a call): a finished call's stream is
    freed only by a full collection, which a process that froze its start-up objects makes rare. The heap pass that
    follows the calls' ends collects it. Automatic collection is off here, as it is, in effect, between a frozen
    web process's rare full passes."""
    own = build_container(replace(container.settings, malloc_trim_interval_seconds=60.0), passwords=fast_passwords())
    gc.collect()
    gc.disable()
    try:
        voice_org(own)
        app = create_app(own.settings, container=own)
        own.extras["telephony"].speech = fake_speech
        script: list[Step] = [AwaitReply(timeout=10, settle=0.2), Silence(0.2)]
        passes = own.metrics.registry.get_sample_value
        async with serve(app) as port:
            caller = local_caller(own, port, compression=True, status_path="/twilio/status", max_duration=30)
            results = await asyncio.gather(*(simulate_call(caller, script) for _ in range(3)))
            assert all(result.greeting_latency is not None for result in results)
            # Every call's end asks for a pass; once all are stored, wait until the passes have been quiet for
            # longer than their settling time. Only counters are polled: a census of objects while the collector
            # runs would hold every object in its list.
            deadline = time.monotonic() + 20
            last, quiet_since = passes("seiketsu_malloc_trim_seconds_count") or 0.0, time.monotonic()
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                count = passes("seiketsu_malloc_trim_seconds_count") or 0.0
                if count != last:
                    last, quiet_since = count, time.monotonic()
                elif count and _stored_calls(own) == 3 and time.monotonic() - quiet_since > 1.5:
                    break
            assert last >= 1
            assert _websocket_states() == []
        with system_session(own.sessions) as session:
            calls = list(session.scalars(sa.select(Call)))
        assert len(calls) == 3 and all(c.status == "completed" for c in calls)  # the status callbacks
    finally:
        gc.enable()
        own.close()


async def test_a_simulated_call_posts_the_status_callbacks_twilio_would(
    container: Container, fake_speech: FakeSpeech
) -> None:
    voice_org(container)
    app = create_app(container.settings, container=container)
    container.extras["telephony"].speech = fake_speech
    script: list[Step] = [AwaitReply(timeout=10, settle=0.2), Silence(1.0)]
    async with serve(app) as port:
        result = await simulate_call(local_caller(container, port, status_path="/twilio/status"), script)
    assert result.duration >= 1.0
    with system_session(container.sessions) as session:
        call = session.scalars(sa.select(Call)).one()
    assert call.status == "completed" and call.answered_at is not None and call.ended_at is not None
    assert call.duration_seconds == round(result.duration)


def test_seiketsu_call_asks_for_a_server_before_it_synthesizes_the_callers_lines(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "SECRET_KEY": "k" * 40}
    result = CliRunner().invoke(main, ["call", "--url", url, "--to", "+15125550100", "--say", "hello"], env=env)
    assert result.exit_code == 1
    assert f"no server answers at {url}" in result.output and "make run" in result.output
