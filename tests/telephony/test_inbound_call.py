"""A whole inbound call on the local providers: real speech through the real codec, over a real server."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import httpx
import sqlalchemy as sa
from sqlmodel import col
from websockets.asyncio.client import connect

from agent.providers.piper_tts import PiperTTS
from seiketsu.app import create_app
from seiketsu.container import Container
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session
from telephony.models import Call, TranscriptLine
from telephony.runtime import twilio_auth_token
from telephony.signatures import compute_twilio_signature
from telephony.simulator import script_from_lines, simulate_call
from telephony.simulator.voices import TextToSpeechVoice
from tests.servers import serve
from tests.telephony.conftest import FakeSpeech, local_caller, voice_org, voice_params


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
    settings = container.settings
    params = voice_params()
    signature = compute_twilio_signature(
        twilio_auth_token(settings), settings.public_base_url + "/twilio/voice", params
    )
    async with serve(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answer = await http.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})
        stream = ET.fromstring(answer.text).find("./Connect/Stream")
        assert stream is not None
        custom = {str(p.get("name")): str(p.get("value")) for p in stream.findall("Parameter")}
        async with connect(f"ws://127.0.0.1:{port}/twilio/media") as ws:
            start = {"accountSid": "AC" + "0" * 32, "streamSid": "MZ1", "callSid": params["CallSid"],
                     "tracks": ["inbound"], "customParameters": custom,
                     "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}  # fmt: skip
            await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": start}))
            assert json.loads(await ws.recv())["event"] == "media"
            stop = {"accountSid": "AC" + "0" * 32, "callSid": params["CallSid"]}
            await ws.send(json.dumps({"event": "stop", "sequenceNumber": "2", "streamSid": "MZ1", "stop": stop}))
        for _ in range(100):
            with system_session(container.sessions) as session:
                call = session.scalars(sa.select(Call)).one()
            if call.outcome is not None:
                break
            await asyncio.sleep(0.05)
    assert call.outcome is not None and call.ended_at is not None
