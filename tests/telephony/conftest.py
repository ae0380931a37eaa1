"""Fixtures for the telephony web layer: an organization with a number, signed Twilio requests, fake speech."""

from __future__ import annotations

import asyncio
import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from websockets.asyncio.client import connect

from agent.fakes import FakeDialog, FakeSpeechToText, FakeTextToSpeech
from agent.providers.factory import ProviderSelection, SpeechPreferences
from seiketsu.container import Container
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import system_session
from telephony.models import Call
from telephony.runtime import TelephonyRuntime, twilio_auth_token
from telephony.signatures import compute_twilio_signature
from telephony.simulator import SimulatorConfig
from tests.factories import OrgFixture, make_org

BROKERAGE_NUMBER = "+15125550100"
CALLER = "+15125550142"


@dataclass
class FakeSpeech:
    """Stands in for SpeechProviders: every call gets the same fakes."""

    stt: FakeSpeechToText
    tts: FakeTextToSpeech
    dialog: FakeDialog | None = None

    def select(self, preferences: SpeechPreferences | None = None) -> ProviderSelection:
        return ProviderSelection(
            stt=self.stt,
            tts=self.tts,
            dialog=self.dialog,
            language="en-US",
            fallback_stt=self.stt,
            fallback_tts=self.tts,
        )

    async def warm_up(self, organizations: Iterable[SpeechPreferences] = ()) -> None:
        return None

    async def aclose(self) -> None:
        return None


def runtime_of(client: TestClient) -> TelephonyRuntime:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    runtime = container.extras["telephony"]
    assert isinstance(runtime, TelephonyRuntime)
    return runtime


def use_fake_speech(client: TestClient, speech: FakeSpeech) -> None:
    runtime_of(client).speech = speech


def voice_org(container: Container, *, settings: Mapping[str, Any] | None = None, limit: int = 10) -> OrgFixture:
    org = make_org(container, "lonestar", numbers=(BROKERAGE_NUMBER,))
    with system_session(container.sessions) as session:
        record = session.get(Organization, org.id)
        assert record is not None
        record.name = "Lone Star Realty"
        record.settings = dict(settings or {})
        record.max_concurrent_calls = limit
        session.commit()
    return org


def local_caller(container: Container, port: int, **options: Any) -> SimulatorConfig:
    """The simulator as Twilio would ring the app served on ``port``: from CALLER to the brokerage's number."""
    return SimulatorConfig(
        server_url=f"http://127.0.0.1:{port}",
        auth_token=twilio_auth_token(container.settings),
        from_number=CALLER,
        to_number=BROKERAGE_NUMBER,
        public_base_url=container.settings.public_base_url,
        stream_base_url=f"ws://127.0.0.1:{port}",
        **options,
    )


def twilio_post(client: TestClient, path: str, params: dict[str, str], *, signature: str | None = None) -> Any:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    settings = container.settings
    if signature is None:
        signature = compute_twilio_signature(twilio_auth_token(settings), settings.public_base_url + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def voice_params(
    call_sid: str = "CA" + "1" * 32, *, caller: str = CALLER, to: str = BROKERAGE_NUMBER
) -> dict[str, str]:
    return {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": to,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


async def hang_up_after(container: Container, port: int, *, frames: int) -> tuple[list[bytes], Call]:
    """Ring the app served on ``port`` as Twilio would, open its media stream, hang up after hearing ``frames``
    media payloads; return them and the call once it is recorded as ended."""
    settings = container.settings
    params = voice_params()
    signature = compute_twilio_signature(
        twilio_auth_token(settings), settings.public_base_url + "/twilio/voice", params
    )
    heard: list[bytes] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answer = await http.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})
        stream = ET.fromstring(answer.text).find("./Connect/Stream")
        assert stream is not None
        custom = {str(p.get("name")): str(p.get("value")) for p in stream.findall("Parameter")}
        async with connect(f"ws://127.0.0.1:{port}/twilio/media") as ws:
            start = {"accountSid": "AC" + "0" * 32, "streamSid": "MZ1", "callSid": params["CallSid"],
                     "tracks": ["inbound"], "customParameters": custom,
                     "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}  # fmt: skip
            await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": start}))
            while len(heard) < frames:
                message = json.loads(await ws.recv())
                assert message["event"] == "media"
                heard.append(base64.b64decode(message["media"]["payload"]))
            stop = {"accountSid": "AC" + "0" * 32, "callSid": params["CallSid"]}
            await ws.send(json.dumps({"event": "stop", "sequenceNumber": "2", "streamSid": "MZ1", "stop": stop}))
    for _ in range(100):
        with system_session(container.sessions) as session:
            call = session.scalars(sa.select(Call)).one()
        if call.outcome is not None:
            break
        await asyncio.sleep(0.05)
    assert call.outcome is not None and call.ended_at is not None
    return heard, call


@pytest.fixture
def fake_speech() -> FakeSpeech:
    return FakeSpeech(
        stt=FakeSpeechToText(["I want to sell my condo in Austin next spring"]),
        tts=FakeTextToSpeech(ms_per_char=5, chunk_ms=100),
    )
