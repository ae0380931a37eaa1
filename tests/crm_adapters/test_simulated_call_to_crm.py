"""The "done when" over the wire: HubSpot configured through the API, then a simulated phone call (the caller's
speech through Twilio's media-stream protocol, the local recognizer, the scripted dialog) lands in the fake CRM
as a contact, a call log and a follow-up task, exactly once."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from agent.providers.piper_tts import PiperTTS
from crm_adapters.fake_server import FakeHubSpot
from seiketsu.container import Container
from telephony.simulator import AwaitAgentAudio, AwaitReply, CallResult, Digits, script_from_lines, simulate_call
from telephony.simulator.voices import TextToSpeechVoice
from tests.factories import login
from tests.servers import serve
from tests.telephony.conftest import CALLER, local_caller, voice_org

from .delivery_support import UNIQUE_PROPERTIES, asgi_client, configure_hubspot, deliveries, run_jobs, use_http


def test_a_simulated_call_lands_in_hubspot_exactly_once(client: TestClient, container: Container) -> None:
    fake = FakeHubSpot(unique_properties=UNIQUE_PROPERTIES)
    use_http(container, asgi_client(fake.app))
    org = voice_org(container)
    configure_hubspot(client, login(client, org), fake)

    result = asyncio.run(_call(client, container))
    assert result.protocol_errors == 0 and result.turns

    run_jobs(container)
    run_jobs(container)  # a second pass, as after a retry: nothing new
    [contact] = fake.objects["contacts"].values()
    assert contact.properties["phone"] == CALLER
    [logged] = fake.objects["calls"].values()
    assert logged.properties["hs_call_direction"] == "INBOUND"
    assert "condo" in logged.properties["hs_call_body"].lower()
    [task] = fake.objects["tasks"].values()
    assert "Message from the caller" in task.properties["hs_task_body"]
    assert logged.associations == task.associations == {("contacts", contact.id)}
    assert len(fake.created) == 3 and len(deliveries(container, org)) == 1


async def _call(client: TestClient, container: Container) -> CallResult:
    caller_voice = PiperTTS(deterministic=True)
    try:
        voice = TextToSpeechVoice(caller_voice)
        script = await script_from_lines(["Hi, I want to sell my condo next spring."], voice, reply_timeout=20)
        # Without an area the call is not qualified; asking for a person (the 0 key) on a line with no transfer
        # number leaves a message, which an agent must follow up on whatever the recognizer made of the words.
        script += [Digits("0"), AwaitAgentAudio(timeout=20), AwaitReply(timeout=20, settle=0.6)]
        script += (await script_from_lines(["Please have an agent call me back."], voice, reply_timeout=20))[1:]
        async with serve(client.app) as port:  # the app the API calls went to
            return await simulate_call(local_caller(container, port), script)
    finally:
        await caller_voice.aclose()
