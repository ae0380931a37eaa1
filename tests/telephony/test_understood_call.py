"""The issue's "done when", end to end: a caller's words through the simulator, the media stream, the agent and
the scripted dialog land in the stored call. The recognizer is a text double (the words it returns are what a
good recognizer hears), so this checks understanding and storage, not recognition."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from agent.fakes import FakeSpeechToText, FakeTextToSpeech
from agent.providers.piper_tts import PiperTTS
from seiketsu.app import create_app
from seiketsu.container import Container
from seiketsu.tenancy.scoping import system_session
from telephony.models import Call, CallOutcome
from telephony.simulator import script_from_lines, simulate_call
from telephony.simulator.voices import TextToSpeechVoice
from tests.factories import PASSWORD, OrgFixture
from tests.servers import serve
from tests.telephony.conftest import FakeSpeech, local_caller, voice_org


async def _call(container: Container, org: OrgFixture, lines: list[str]) -> dict[str, Any]:
    """Ring the app, say ``lines`` in the local voice, and return the stored call as the API shows it."""
    app = create_app(container.settings, container=container)
    container.extras["telephony"].speech = FakeSpeech(
        stt=FakeSpeechToText([line.lower().rstrip(".") for line in lines]),
        tts=FakeTextToSpeech(ms_per_char=5, chunk_ms=100),
    )
    caller_voice = PiperTTS(deterministic=True)
    script = await script_from_lines(lines, TextToSpeechVoice(caller_voice), reply_timeout=20)
    async with serve(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        result = await simulate_call(local_caller(container, port), script)
        assert result.protocol_errors == 0
        login = {"email": org.admin_email, "password": PASSWORD, "organizationSlug": org.slug}
        token = (await http.post("/api/v1/auth/login", json=login)).json()["accessToken"]
        with system_session(container.sessions) as session:
            call = session.scalars(sa.select(Call)).one()
        response = await http.get(f"/api/v1/voice/sessions/{call.id}", headers={"Authorization": f"Bearer {token}"})
    await caller_voice.aclose()
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_seller_is_understood_and_stored_qualified(container: Container) -> None:
    org = voice_org(container)
    stored = await _call(
        container, org, ["Hi, I want to sell my condo in Austin next spring.", "Around four hundred thousand."]
    )
    q = stored["qualification"]
    assert q["intent"] == "sell" and q["area"] == "Austin" and "spring" in q["timeline"]
    assert q["budget"] == 400_000 and q["propertyType"] == "condo"
    assert stored["outcome"] == CallOutcome.QUALIFIED


async def test_without_a_transfer_number_the_caller_leaves_a_message(container: Container) -> None:
    org = voice_org(container)  # no transferNumber in its settings
    stored = await _call(container, org, ["Can I talk to a real person?", "Please call me about my listing."])
    assert stored["outcome"] == CallOutcome.MESSAGE_TAKEN
    assert stored["qualification"]["callbackMessage"] == "please call me about my listing"
    agent_lines = [line["text"] for line in stored["transcript"] if line["speaker"] == "agent"]
    assert not any("connecting you" in line or "connect you" in line for line in agent_lines)
