"""WS /twilio/media: admission, Twilio's protocol in both directions, hostile input, the call's record."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from agent.fakes import FakeDialog, FakeSpeechToText, FakeTextToSpeech
from agent.interfaces import ProviderError
from compliance.models import DoNotCallRequest
from seiketsu.app import create_app
from seiketsu.container import Container, build_container
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Lead
from seiketsu.settings import Settings
from seiketsu.tenancy.scoping import system_session
from telephony.audio import pcm16_to_ulaw
from telephony.models import Call, CallOutcome, TranscriptLine
from telephony.signatures import issue_stream_token
from telephony.simulator import EspeakNgVoice
from tests.conftest import TEST_SECRET, fast_passwords
from tests.telephony.conftest import CALLER, FakeSpeech, twilio_post, use_fake_speech, voice_org, voice_params

STREAM_SID = "MZ" + "0" * 32
FRAME = 160  # 20 ms of mu-law


@pytest.fixture(scope="module")
def speech_ulaw() -> bytes:
    """About two seconds of real speech (espeak-ng), as Twilio would send it."""
    pcm = asyncio.run(EspeakNgVoice().synthesize("I want to sell my condo in Austin next spring"))
    return pcm16_to_ulaw(pcm)


def _answer(client: TestClient) -> dict[str, str]:
    response = twilio_post(client, "/twilio/voice", voice_params())
    stream = ET.fromstring(response.text).find("./Connect/Stream")
    assert stream is not None
    return {str(p.get("name")): str(p.get("value")) for p in stream.findall("Parameter")}


def _start(parameters: dict[str, str], seq: int = 1) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": str(seq),
            "streamSid": STREAM_SID,
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": STREAM_SID,
                "callSid": "CA" + "1" * 32,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": parameters,
            },
        }
    )


def _media(payload: bytes, chunk: int) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(chunk + 2),
            "streamSid": STREAM_SID,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(chunk * 20),
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


class Twilio:
    """Our side of the test: sends what Twilio sends and collects what the server sends back."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.chunk = 0
        self.received: list[dict[str, Any]] = []

    def send_audio(self, ulaw: bytes) -> None:
        for offset in range(0, len(ulaw), FRAME):
            self.chunk += 1
            self.ws.send_text(_media(ulaw[offset : offset + FRAME].ljust(FRAME, b"\xff"), self.chunk))

    def silence(self, seconds: float) -> None:
        self.send_audio(b"\xff" * int(8000 * seconds))

    def receive_until(self, event: str) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(self.ws.receive_text())
            self.received.append(message)
            if message["event"] == event:
                return message

    def echo_marks(self) -> None:
        for message in self.received:
            if message["event"] == "mark":
                self.chunk += 1
                self.ws.send_text(
                    json.dumps(
                        {
                            "event": "mark",
                            "sequenceNumber": str(self.chunk + 2),
                            "streamSid": STREAM_SID,
                            "mark": message["mark"],
                        }
                    )
                )
        self.received.clear()

    def stop(self) -> None:
        self.ws.send_text(
            json.dumps(
                {
                    "event": "stop",
                    "sequenceNumber": str(self.chunk + 3),
                    "streamSid": STREAM_SID,
                    "stop": {"accountSid": "AC" + "0" * 32, "callSid": "CA" + "1" * 32},
                }
            )
        )


@pytest.fixture
def twilio_stream(
    client: TestClient, container: Container, fake_speech: FakeSpeech
) -> Iterator[tuple[Twilio, dict[str, str]]]:
    voice_org(container)
    use_fake_speech(client, fake_speech)
    parameters = _answer(client)
    with client.websocket_connect("/twilio/media") as ws:
        ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        yield Twilio(ws), parameters


def _call(container: Container) -> Call:
    with system_session(container.sessions) as session:
        return session.scalars(sa.select(Call)).one()


def _wait_for_outcome(container: Container, timeout: float = 10.0) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        call = _call(container)
        if call.outcome is not None:
            return call
        time.sleep(0.05)
    raise AssertionError("the call's outcome was never recorded")


def test_a_call_greets_at_once_answers_a_turn_and_is_recorded(
    twilio_stream: tuple[Twilio, dict[str, str]], container: Container, speech_ulaw: bytes
) -> None:
    container.jobs.registry.register("test.on_call_completed", lambda context: None)
    container.events.subscribe("call.completed", "test.on_call_completed")
    twilio, parameters = twilio_stream
    twilio.ws.send_text(_start(parameters))
    greeting = twilio.receive_until("media")
    assert greeting["streamSid"] == STREAM_SID and base64.b64decode(greeting["media"]["payload"])
    twilio.receive_until("mark")
    twilio.echo_marks()
    twilio.send_audio(speech_ulaw)
    twilio.silence(1.0)
    reply = twilio.receive_until("media")
    assert set(reply) == {"event", "streamSid", "media"} and set(reply["media"]) == {"payload"}
    twilio.receive_until("mark")
    twilio.echo_marks()
    twilio.stop()
    call = _wait_for_outcome(container)
    assert call.stream_started_at is not None
    with system_session(container.sessions) as session:
        lines = list(session.scalars(sa.select(TranscriptLine).order_by(col(TranscriptLine.seq))))
        lead = session.get(Lead, call.lead_id)
        jobs = list(session.scalars(sa.select(Job).where(col(Job.name) == "test.on_call_completed")))
    speakers = [line.speaker for line in lines]
    assert speakers[:3] == ["agent", "caller", "agent"]
    assert "Lone Star Realty" in lines[0].text and "AI assistant" in lines[0].text
    assert lines[1].text == "I want to sell my condo in Austin next spring"
    assert call.qualification["intent"] == "sell" and call.qualification["property_type"] == "condo"
    assert call.latencies and call.latencies[0]["endpointing_ms"] > 0
    assert lead is not None and lead.qualification["intent"] == "sell"
    assert [job.payload["callId"] for job in jobs] == [str(call.id)]
    assert "Caller: I want to sell my condo" in jobs[0].payload["summary"]


def test_hostile_and_out_of_order_messages_are_skipped(
    twilio_stream: tuple[Twilio, dict[str, str]], container: Container
) -> None:
    twilio, parameters = twilio_stream
    ws = twilio.ws
    ws.send_text(_media(b"\xff" * FRAME, 1))  # media before start
    ws.send_text("{not json")
    ws.send_text(json.dumps({"event": "teleport"}))
    ws.send_bytes(b"\x00\x01binary")
    ws.send_text(_start(parameters))
    twilio.receive_until("media")  # the greeting: the call survived
    ws.send_text(json.dumps({"event": "media", "streamSid": STREAM_SID, "media": {"payload": "!!!not base64"}}))
    ws.send_text(json.dumps({"event": "media", "streamSid": STREAM_SID, "media": {"payload": "A" * 2_000_000}}))
    ws.send_text(_start(parameters, seq=9))  # a second start
    for i in range(500):
        ws.send_text(
            json.dumps(
                {
                    "event": "mark",
                    "sequenceNumber": str(10 + i),
                    "streamSid": STREAM_SID,
                    "mark": {"name": f"flood-{i}"},
                }
            )
        )
    twilio.silence(0.2)
    ws.send_text(
        json.dumps(
            {
                "event": "dtmf",
                "sequenceNumber": "900",
                "streamSid": STREAM_SID,
                "dtmf": {"track": "inbound_track", "digit": "5"},
            }
        )
    )
    twilio.stop()
    call = _wait_for_outcome(container)
    assert call.outcome is not None and call.outcome is not CallOutcome.FAILED


def test_a_stream_without_a_valid_token_is_refused(client: TestClient, container: Container) -> None:
    voice_org(container)
    _answer(client)
    call_id = str(_call(container).id)
    bad_tokens = [
        {},
        {"callId": call_id, "token": "garbage"},
        {
            "callId": call_id,
            "token": issue_stream_token("another-secret-entirely-000000000000", call_id, ttl=60, now=time.time()),
        },
        {"callId": call_id, "token": issue_stream_token(TEST_SECRET, call_id, ttl=60, now=time.time() - 120)},
    ]
    for parameters in bad_tokens:
        with client.websocket_connect("/twilio/media") as ws:
            ws.send_text(_start(parameters))
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 1008
    assert _call(container).stream_started_at is None


def test_a_token_admits_one_stream_only(client: TestClient, container: Container, fake_speech: FakeSpeech) -> None:
    voice_org(container)
    use_fake_speech(client, fake_speech)
    parameters = _answer(client)
    with client.websocket_connect("/twilio/media") as first:
        first.send_text(_start(parameters))
        Twilio(first).receive_until("media")
        with client.websocket_connect("/twilio/media") as second:
            second.send_text(_start(parameters))
            with pytest.raises(WebSocketDisconnect):
                second.receive_text()


def test_an_upgrade_with_a_forged_twilio_signature_is_refused(client: TestClient, container: Container) -> None:
    voice_org(container)
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/twilio/media", headers={"X-Twilio-Signature": "Zm9yZ2Vk"}) as ws,
    ):
        ws.receive_text()


def test_barge_in_clears_twilio_and_keeps_only_what_was_heard(
    client: TestClient, container: Container, speech_ulaw: bytes
) -> None:
    voice_org(container)
    long_reply = "Great. " + "Let me tell you all about our wonderful listings in the area. " * 6
    speech = FakeSpeech(
        stt=FakeSpeechToText(["tell me more", "wait stop"]),
        tts=FakeTextToSpeech(ms_per_char=40, chunk_ms=200),
        dialog=FakeDialog([long_reply, "Sure."]),
    )
    use_fake_speech(client, speech)
    parameters = _answer(client)
    with client.websocket_connect("/twilio/media") as ws:
        twilio = Twilio(ws)
        ws.send_text(_start(parameters))
        twilio.receive_until("mark")
        twilio.echo_marks()
        twilio.send_audio(speech_ulaw)
        twilio.silence(1.0)
        twilio.receive_until("mark")  # the long reply has started; only its first mark is echoed
        twilio.echo_marks()
        twilio.send_audio(speech_ulaw)  # the caller talks over the agent
        twilio.receive_until("clear")
        twilio.silence(1.0)
        twilio.stop()
    call = _wait_for_outcome(container)
    with system_session(container.sessions) as session:
        lines = list(session.scalars(sa.select(TranscriptLine).order_by(col(TranscriptLine.seq))))
    cut = [line for line in lines if line.interrupted]
    assert cut, "the interrupted reply is marked as such"
    assert len(cut[0].text) < len(long_reply.strip())
    assert call.outcome is not None


def _run_call(
    client: TestClient, speech: FakeSpeech, speech_ulaw: bytes, *, digits: str = "", server_ends: bool = True
) -> None:
    """Greeting, one caller turn, optional key presses; then wait for the server to end the call, or hang up."""
    use_fake_speech(client, speech)
    parameters = _answer(client)
    with client.websocket_connect("/twilio/media") as ws:
        twilio = Twilio(ws)
        ws.send_text(_start(parameters))
        twilio.receive_until("mark")
        twilio.echo_marks()
        twilio.send_audio(speech_ulaw)
        twilio.silence(1.0)
        twilio.receive_until("mark")
        twilio.echo_marks()
        for digit in digits:
            message = {"event": "dtmf", "sequenceNumber": "999", "streamSid": STREAM_SID,
                       "dtmf": {"track": "inbound_track", "digit": digit}}  # fmt: skip
            ws.send_text(json.dumps(message))
        if not server_ends:
            twilio.stop()
            return
        try:
            while True:
                twilio.receive_until("mark")
                twilio.echo_marks()
        except WebSocketDisconnect:
            pass


@respx.mock
def test_pressing_0_transfers_the_caller_to_a_human(
    client: TestClient, container: Container, speech_ulaw: bytes
) -> None:
    voice_org(container, settings={"transferNumber": "+15125550177"})
    update = respx.post(url__regex=r"https://api\.twilio\.test/2010-04-01/Accounts/AC0+/Calls/CA1+\.json").mock(
        return_value=httpx.Response(200, json={"sid": "CA" + "1" * 32, "status": "in-progress"})
    )
    speech = FakeSpeech(stt=FakeSpeechToText(["I'd like to buy"]), tts=FakeTextToSpeech(ms_per_char=5, chunk_ms=100))
    _run_call(client, speech, speech_ulaw, digits="0")
    call = _wait_for_outcome(container)
    assert call.outcome is CallOutcome.TRANSFERRED
    assert update.called
    form = parse_qs(update.calls.last.request.content.decode())
    assert "<Dial" in form["Twiml"][0] and "+15125550177" in form["Twiml"][0]


def test_a_failing_dialog_mid_call_falls_back_and_the_call_is_saved(
    client: TestClient, container: Container, speech_ulaw: bytes
) -> None:
    voice_org(container)
    speech = FakeSpeech(
        stt=FakeSpeechToText(["I want to buy a house"]),
        tts=FakeTextToSpeech(ms_per_char=5, chunk_ms=100),
        dialog=FakeDialog([ProviderError("the language model is down")]),
    )
    _run_call(client, speech, speech_ulaw, server_ends=False)
    call = _wait_for_outcome(container)
    assert call.provider_failures and "dialog" in call.provider_failures[0]
    with system_session(container.sessions) as session:
        lines = list(session.scalars(sa.select(TranscriptLine).order_by(col(TranscriptLine.seq))))
    assert [line.speaker for line in lines][:3] == ["agent", "caller", "agent"]
    assert lines[2].text  # the caller heard an answer, not silence


@respx.mock
def test_stop_calling_me_puts_the_caller_on_the_do_not_call_list_and_hangs_up(
    client: TestClient, container: Container, speech_ulaw: bytes
) -> None:
    voice_org(container)
    hang_up = respx.post(url__regex=r"https://api\.twilio\.test/2010-04-01/Accounts/AC0+/Calls/CA1+\.json").mock(
        return_value=httpx.Response(200, json={"sid": "CA" + "1" * 32, "status": "completed"})
    )
    speech = FakeSpeech(
        stt=FakeSpeechToText(["please stop calling me"]), tts=FakeTextToSpeech(ms_per_char=5, chunk_ms=100)
    )
    _run_call(client, speech, speech_ulaw)
    call = _wait_for_outcome(container)
    assert call.outcome is CallOutcome.OPTED_OUT
    with system_session(container.sessions) as session:
        entries = list(session.scalars(sa.select(DoNotCallRequest)))
    assert [(entry.phone, entry.source) for entry in entries] == [(CALLER, "call")]
    assert parse_qs(hang_up.calls.last.request.content.decode()) == {"Status": ["completed"]}


def test_a_caller_who_drops_without_stop_still_leaves_a_record(
    twilio_stream: tuple[Twilio, dict[str, str]], container: Container, speech_ulaw: bytes
) -> None:
    twilio, parameters = twilio_stream
    twilio.ws.send_text(_start(parameters))
    twilio.receive_until("media")
    twilio.send_audio(speech_ulaw[:1600])
    twilio.ws.close()  # the network drops: no stop message
    call = _wait_for_outcome(container)
    with system_session(container.sessions) as session:
        lines = list(session.scalars(sa.select(TranscriptLine)))
    assert call.ended_at is not None and lines and lines[0].speaker == "agent"


def test_a_stored_call_has_the_heap_trimmer_hand_its_memory_back_soon(
    settings: Settings, container: Container, fake_speech: FakeSpeech
) -> None:
    """Not at the next periodic pass (a minute away here): a pass follows once the call is stored."""
    own = build_container(replace(settings, malloc_trim_interval_seconds=60.0), passwords=fast_passwords())
    try:
        with TestClient(create_app(own.settings, container=own)) as client:
            voice_org(own)
            use_fake_speech(client, fake_speech)
            parameters = _answer(client)
            with client.websocket_connect("/twilio/media") as ws:
                twilio = Twilio(ws)
                ws.send_text(_start(parameters))
                twilio.receive_until("media")
                twilio.stop()
                assert _wait_for_outcome(own).outcome is not None  # inside: leaving the block cancels the handler
            passes = own.metrics.registry.get_sample_value
            deadline = time.monotonic() + 10
            while not passes("seiketsu_malloc_trim_seconds_count") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert passes("seiketsu_malloc_trim_seconds_count") == 1
    finally:
        own.close()


def test_a_finished_call_leaves_nothing_for_the_cycle_collector(
    twilio_stream: tuple[Twilio, dict[str, str]], container: Container, speech_ulaw: bytes
) -> None:
    """A call's session, its parts, buffers and transport go by reference counting once the call is stored, not
    at a later full collection (rare in a process that froze its start-up objects)."""
    twilio, parameters = twilio_stream
    gc.collect()
    gc.disable()
    try:
        twilio.ws.send_text(_start(parameters))
        twilio.receive_until("media")
        twilio.receive_until("mark")
        twilio.echo_marks()
        twilio.send_audio(speech_ulaw)
        twilio.silence(1.0)
        twilio.receive_until("media")
        twilio.receive_until("mark")
        twilio.echo_marks()
        twilio.stop()
        _wait_for_outcome(container)
        time.sleep(0.2)  # the handler returns after storing the call
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [type(o).__qualname__ for o in gc.garbage if type(o).__module__.split(".")[0] in ("agent", "telephony")]
        assert ours == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
