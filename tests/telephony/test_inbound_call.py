"""A whole inbound call on the local providers: real speech through the real codec, over a real server."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col

from agent.providers.piper_tts import PiperTTS
from seiketsu.app import create_app
from seiketsu.container import Container
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session
from telephony.models import Call, TranscriptLine
from telephony.runtime import twilio_auth_token
from telephony.simulator import SimulatorConfig, script_from_lines, simulate_call
from telephony.simulator.voices import TextToSpeechVoice
from tests.servers import serve
from tests.telephony.conftest import BROKERAGE_NUMBER, CALLER, voice_org


async def test_a_caller_is_heard_qualified_and_recorded(container: Container, tmp_path) -> None:
    voice_org(container)
    container.jobs.registry.register("test.on_call_completed", lambda context: None)
    container.events.subscribe("call.completed", "test.on_call_completed")
    app = create_app(container.settings, container=container)
    caller_voice = PiperTTS()
    script = await script_from_lines(
        ["Hi, I want to sell my condo next spring."], TextToSpeechVoice(caller_voice), reply_timeout=20
    )
    async with serve(app) as port:
        result = await simulate_call(
            SimulatorConfig(
                server_url=f"http://127.0.0.1:{port}",
                auth_token=twilio_auth_token(container.settings),
                from_number=CALLER,
                to_number=BROKERAGE_NUMBER,
                public_base_url=container.settings.public_base_url,
                stream_base_url=f"ws://127.0.0.1:{port}",
                record_path=tmp_path / "agent.wav",
            ),
            script,
        )
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
    caller_text = " ".join(line.text for line in lines if line.speaker == "caller").lower()
    assert "condo" in caller_text and "spring" in caller_text
    assert call.qualification.get("property_type") == "condo"
    assert call.outcome is not None and call.latencies
    assert lead is not None and lead.qualification.get("property_type") == "condo"
    assert len(jobs) == 1
