"""POST /twilio/voice/outbound, /twilio/status for placed calls, and /twilio/amd: the human, machine and fax paths."""

from __future__ import annotations

import base64
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from agent.fakes import FakeSpeechToText, FakeTextToSpeech
from seiketsu.container import Container
from seiketsu.tenancy.scoping import system_session
from telephony.models import Call, CallOutcome, CallStatus, TranscriptLine
from telephony.signatures import verify_stream_token
from tests.conftest import TEST_SECRET
from tests.factories import login
from tests.telephony.conftest import FakeSpeech, twilio_post, use_fake_speech
from tests.telephony.outbound_support import (
    ACCOUNT,
    OUTBOUND_NUMBER,
    FakeClock,
    FakeTwilio,
    add_leads,
    outbound_org,
    use_clock,
)

LEAD = "+12125550142"
STREAM_SID = "MZ" + "1" * 32


@pytest.fixture
def twilio(client: TestClient, container: Container) -> Iterator[FakeTwilio]:
    clock = FakeClock()
    use_clock(container, clock)
    with respx.mock(assert_all_called=False) as router:
        yield FakeTwilio(clock=clock).install(router)


def _place(client: TestClient, container: Container, *, settings: dict[str, Any] | None = None) -> tuple[str, str]:
    """Dial a consenting lead through the API; returns (call id, call sid)."""
    org = outbound_org(container, settings=settings)
    lead_id = add_leads(container, org, [LEAD])[LEAD]
    response = client.post("/api/v1/voice/sessions", headers=login(client, org), json={"leadId": str(lead_id)})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["callSid"]


def _call(container: Container, call_id: str) -> Call:
    with system_session(container.sessions) as session:
        call = session.get(Call, uuid.UUID(call_id))
        assert call is not None
        return call


def _answered(client: TestClient, call_id: str, sid: str) -> dict[str, str]:
    params = {
        "CallSid": sid,
        "AccountSid": ACCOUNT,
        "From": OUTBOUND_NUMBER,
        "To": LEAD,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
    }
    response = twilio_post(client, f"/twilio/voice/outbound?callId={call_id}", params)
    assert response.status_code == 200, response.text
    stream = ET.fromstring(response.text).find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://seiketsu.test/twilio/media"
    return {str(p.get("name")): str(p.get("value")) for p in stream.findall("Parameter")}


def test_the_answered_call_gets_a_media_stream_for_its_call(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    call_id, sid = _place(client, container)
    parameters = _answered(client, call_id, sid)
    assert parameters["callId"] == call_id
    assert verify_stream_token(TEST_SECRET, parameters["token"], now=time.time()) == call_id
    call = _call(container, call_id)
    assert call.status is CallStatus.IN_PROGRESS and call.answered_at is not None


def test_outbound_twiml_for_an_unknown_call_hangs_up_and_unsigned_requests_are_refused(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    outbound_org(container)
    params = {"CallSid": "CA" + "7" * 32, "AccountSid": ACCOUNT, "From": OUTBOUND_NUMBER, "To": LEAD}
    unknown = twilio_post(client, f"/twilio/voice/outbound?callId={uuid.uuid4()}", params)
    assert ET.fromstring(unknown.text).find("Hangup") is not None
    assert client.post("/twilio/voice/outbound", data=params).status_code == 403
    assert client.post("/twilio/amd", data={**params, "AnsweredBy": "human"}).status_code == 403


def test_a_status_that_arrives_before_the_sid_is_stored_finds_its_call(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    call_id, sid = _place(client, container)
    with system_session(container.sessions) as session:
        session.execute(sa.update(Call).where(col(Call.id) == uuid.UUID(call_id)).values(call_sid=None))
        session.commit()
    twilio.finish(client, sid, "no-answer")
    call = _call(container, call_id)
    assert call.call_sid == sid and call.status is CallStatus.NO_ANSWER and call.outcome is CallOutcome.NO_ANSWER


def test_a_human_answer_changes_nothing(client: TestClient, container: Container, twilio: FakeTwilio) -> None:
    call_id, sid = _place(client, container)
    twilio.answer_machine(client, sid, "human")
    assert twilio.updates == []
    assert _call(container, call_id).answered_by == "human"


def test_a_machine_with_no_stream_here_gets_the_voicemail_as_twiml(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    call_id, sid = _place(client, container, settings={"callbackNumber": "+18005550199"})
    twilio.answer_machine(client, sid, "machine_end_beep")
    [(updated, form)] = twilio.updates
    root = ET.fromstring(form["Twiml"][0])
    assert updated == sid and [child.tag for child in root] == ["Say", "Hangup"]
    message = root.findtext("Say") or ""
    assert "Lone Star Realty" in message and "8 0 0, 5 5 5, 0 1 9 9" in message and "say stop" in message
    twilio.finish(client, sid, "completed", duration=25)
    assert _call(container, call_id).outcome is CallOutcome.VOICEMAIL


def test_a_fax_is_hung_up_on_and_the_call_failed(client: TestClient, container: Container, twilio: FakeTwilio) -> None:
    call_id, sid = _place(client, container)
    twilio.answer_machine(client, sid, "fax")
    [(updated, form)] = twilio.updates
    assert updated == sid and form == {"Status": ["completed"]}
    twilio.finish(client, sid, "completed", duration=3)
    assert _call(container, call_id).outcome is CallOutcome.FAILED


def _start(parameters: dict[str, str]) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": STREAM_SID,
            "start": {
                "accountSid": ACCOUNT,
                "streamSid": STREAM_SID,
                "callSid": "CA",
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": parameters,
            },
        }
    )


def _play_until_closed(ws: WebSocketTestSession, *, then: Any) -> tuple[list[dict[str, Any]], int]:
    """Act as Twilio's player: echo each mark; ``then`` runs once after the first mark. Returns what came, and
    how much of it had come when ``then`` ran."""
    received: list[dict[str, Any]] = []
    sequence = 1
    ran_at = -1
    try:
        while True:
            message: dict[str, Any] = json.loads(ws.receive_text())
            received.append(message)
            if message["event"] == "mark":
                sequence += 1
                ws.send_text(json.dumps({"event": "mark", "sequenceNumber": str(sequence), "streamSid": STREAM_SID,
                                         "mark": message["mark"]}))  # fmt: skip
                if ran_at < 0:
                    then()
                    ran_at = len(received)
    except WebSocketDisconnect:
        return received, ran_at


def _wait_for_outcome(container: Container, call_id: str) -> Call:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        call = _call(container, call_id)
        if call.outcome is not None:
            return call
        time.sleep(0.05)
    raise AssertionError("the call's outcome was never recorded")


def test_a_machine_gets_a_voicemail_over_the_live_stream_then_the_call_ends(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    tts = FakeTextToSpeech(ms_per_char=5, chunk_ms=100)
    use_fake_speech(client, FakeSpeech(stt=FakeSpeechToText([]), tts=tts))
    call_id, sid = _place(client, container)
    parameters = _answered(client, call_id, sid)
    with client.websocket_connect("/twilio/media") as ws:
        ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send_text(_start(parameters))
        received, beep = _play_until_closed(ws, then=lambda: twilio.answer_machine(client, sid, "machine_end_beep"))
    events = [m["event"] for m in received]
    # Whatever of the greeting still played at the beep is cleared; everything after is the message.
    start = max(beep, *(i for i, event in enumerate(events) if event == "clear"), 0)
    after = [base64.b64decode(m["media"]["payload"]) for m in received[start:] if m["event"] == "media"]
    assert (sid, {"Status": ["completed"]}) in twilio.updates, "the call is hung up over REST after the message"
    assert not any(form.get("Twiml") for _, form in twilio.updates), "no TwiML fallback when the stream is live"
    call = _wait_for_outcome(container, call_id)
    assert call.outcome is CallOutcome.VOICEMAIL and call.answered_by == "machine_end_beep"
    with system_session(container.sessions) as session:
        lines = list(session.scalars(
            sa.select(TranscriptLine).where(col(TranscriptLine.call_id) == call.id).order_by(col(TranscriptLine.seq))
        ))  # fmt: skip
    greeting, voicemail = lines[0].text, lines[-1].text
    assert "Lone Star Realty" in greeting and "stop or press 9" in greeting, "a marketing call offers the opt-out"
    assert "Lone Star Realty" in voicemail and "say stop" in voicemail and "2 1 2, 5 5 5, 0 1 0 1" in voicemail
    assert sum(len(chunk) for chunk in after) == tts.audio_ms(voicemail) * 8, "the whole message went out"
    twilio.finish(client, sid, "completed", duration=20)
    assert _call(container, call_id).outcome is CallOutcome.VOICEMAIL
