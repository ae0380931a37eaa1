import base64
import json
from typing import Any

import pytest

from telephony import codec
from telephony.codec import (
    Clear,
    Connected,
    Dtmf,
    MalformedMessage,
    Mark,
    Media,
    MediaFormat,
    OutboundMark,
    OutboundMedia,
    Start,
    Stop,
)

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA4b4a1d2b3d3c6a8b7f2a3e9e0d1c2b3a"
ACCOUNT = "AC25e16e9a716a4a1786a7c83f58e30482"
ULAW = bytes(range(256))
B64 = base64.b64encode(ULAW).decode()

# Exact messages as Twilio documents them (numbers as strings except mediaFormat's).
TWILIO_CONNECTED: dict[str, Any] = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
TWILIO_START: dict[str, Any] = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": SID,
    "start": {
        "accountSid": ACCOUNT,
        "streamSid": SID,
        "callSid": CALL,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"callId": "42", "token": "t.o.k"},
    },
}
TWILIO_MEDIA: dict[str, Any] = {
    "event": "media",
    "sequenceNumber": "4",
    "streamSid": SID,
    "media": {"track": "inbound", "chunk": "2", "timestamp": "5", "payload": B64},
}
TWILIO_DTMF: dict[str, Any] = {
    "event": "dtmf",
    "streamSid": SID,
    "sequenceNumber": "5",
    "dtmf": {"track": "inbound_track", "digit": "1"},
}
TWILIO_MARK: dict[str, Any] = {"event": "mark", "sequenceNumber": "6", "streamSid": SID, "mark": {"name": "reply-1"}}
TWILIO_STOP: dict[str, Any] = {
    "event": "stop",
    "sequenceNumber": "7",
    "streamSid": SID,
    "stop": {"accountSid": ACCOUNT, "callSid": CALL},
}

PARSED_INBOUND = [
    (TWILIO_CONNECTED, Connected(protocol="Call", version="1.0.0")),
    (
        TWILIO_START,
        Start(
            sequence_number=1,
            stream_sid=SID,
            account_sid=ACCOUNT,
            call_sid=CALL,
            tracks=("inbound",),
            media_format=MediaFormat("audio/x-mulaw", 8000, 1),
            custom_parameters={"callId": "42", "token": "t.o.k"},
        ),
    ),
    (TWILIO_MEDIA, Media(sequence_number=4, stream_sid=SID, track="inbound", chunk=2, timestamp=5, payload=ULAW)),
    (TWILIO_DTMF, Dtmf(sequence_number=5, stream_sid=SID, digit="1", track="inbound_track")),
    (TWILIO_MARK, Mark(sequence_number=6, stream_sid=SID, name="reply-1")),
    (TWILIO_STOP, Stop(sequence_number=7, stream_sid=SID, account_sid=ACCOUNT, call_sid=CALL)),
]


@pytest.mark.parametrize(("wire", "expected"), PARSED_INBOUND, ids=lambda v: getattr(v, "get", lambda _: "")("event"))
def test_parse_inbound_every_twilio_message(wire, expected):
    assert codec.parse_inbound(json.dumps(wire)) == expected
    assert codec.parse_inbound(json.dumps(wire).encode()) == expected


@pytest.mark.parametrize(("wire", "message"), PARSED_INBOUND)
def test_encode_inbound_writes_twilios_exact_shape(wire, message):
    assert json.loads(codec.encode_inbound(message)) == wire


def test_start_without_custom_parameters_gives_empty_mapping():
    wire = json.loads(json.dumps(TWILIO_START))
    del wire["start"]["customParameters"]
    parsed = codec.parse_inbound(json.dumps(wire))
    assert isinstance(parsed, Start) and parsed.custom_parameters == {}


def test_numbers_are_accepted_as_json_numbers_too():
    wire = json.loads(json.dumps(TWILIO_MEDIA))
    wire["sequenceNumber"] = 4
    wire["media"]["chunk"] = 2
    parsed = codec.parse_inbound(json.dumps(wire))
    assert isinstance(parsed, Media) and parsed.chunk == 2 and parsed.sequence_number == 4


# --- server -> Twilio


def test_encode_outbound_media_mark_clear_exact_shapes():
    assert json.loads(codec.encode_outbound(OutboundMedia(SID, ULAW))) == {
        "event": "media",
        "streamSid": SID,
        "media": {"payload": B64},
    }
    assert json.loads(codec.encode_outbound(OutboundMark(SID, "reply-1"))) == {
        "event": "mark",
        "streamSid": SID,
        "mark": {"name": "reply-1"},
    }
    assert json.loads(codec.encode_outbound(Clear(SID))) == {"event": "clear", "streamSid": SID}


def test_encode_media_of_any_size_round_trips():
    for size in (0, 1, 159, 160, 161, 8000, 48_001):
        payload = bytes(i % 251 for i in range(size))
        text = codec.encode_media(SID, payload)
        assert codec.parse_outbound(text) == OutboundMedia(SID, payload)


def test_strings_needing_escapes_stay_valid_json():
    name = 'quote " backslash \\ newline \n unicode é'
    assert json.loads(codec.encode_mark(SID, name))["mark"]["name"] == name
    assert codec.parse_outbound(codec.encode_mark(SID, name)) == OutboundMark(SID, name)


@pytest.mark.parametrize("message", [OutboundMedia(SID, ULAW), OutboundMark(SID, "m"), Clear(SID)])
def test_parse_outbound_round_trips(message):
    assert codec.parse_outbound(codec.encode_outbound(message)) == message


# --- hostile input


def _without(wire: dict[str, Any], *path: str) -> str:
    wire = json.loads(json.dumps(wire))
    target = wire
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return json.dumps(wire)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "not json",
        b"\xff\xfe\x00garbage",
        "[1, 2, 3]",
        '"media"',
        "null",
        '{"event": 3}',
        "{}",
        '{"event": "hello"}',
        '{"event": "clear", "streamSid": "MZ1"}',  # outbound-only event arriving inbound
        "[" * 5000 + "]" * 5000,
        _without(TWILIO_MEDIA, "media", "payload"),
        _without(TWILIO_MEDIA, "media", "chunk"),
        _without(TWILIO_MEDIA, "streamSid"),
        _without(TWILIO_MEDIA, "sequenceNumber"),
        _without(TWILIO_START, "start", "callSid"),
        _without(TWILIO_START, "start", "mediaFormat"),
        _without(TWILIO_START, "start", "tracks"),
        _without(TWILIO_MARK, "mark", "name"),
        _without(TWILIO_STOP, "stop"),
        _without(TWILIO_DTMF, "dtmf", "digit"),
        json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "payload": "***not base64***"}}),
        json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "payload": "AAA"}}),  # bad padding
        json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "payload": "AA\nAA"}}),
        json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "payload": "ÿÿÿÿ"}}),
        json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "payload": 12}}),
        json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "chunk": "-1"}}),
        json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "chunk": "1e3"}}),
        json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "chunk": True}}),
        json.dumps({**TWILIO_MEDIA, "media": "payload"}),
        json.dumps({**TWILIO_DTMF, "dtmf": {"track": "inbound_track", "digit": "12"}}),
        json.dumps({**TWILIO_START, "start": {**TWILIO_START["start"], "customParameters": {"a": 1}}}),
        json.dumps({**TWILIO_START, "start": {**TWILIO_START["start"], "tracks": []}}),
    ],
)
def test_malformed_inbound_raises_malformed_message(text):
    with pytest.raises(MalformedMessage) as info:
        codec.parse_inbound(text)
    assert info.value.reason


def test_oversized_payload_is_rejected_before_decoding():
    big = base64.b64encode(b"\xff" * 4000).decode()
    wire = json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "payload": big}})
    parsed = codec.parse_inbound(wire)
    assert isinstance(parsed, Media) and len(parsed.payload) == 4000
    with pytest.raises(MalformedMessage, match="too large"):
        codec.parse_inbound(wire, max_payload_bytes=3999)


def test_huge_message_is_rejected_without_parsing():
    huge = '{"event":"media","junk":"' + "x" * 10_000_000 + '"}'
    with pytest.raises(MalformedMessage, match="too large"):
        codec.parse_inbound(huge)


def test_payload_cap_holds_exactly_at_the_limit():
    for size in (1, 2, 3, 160):
        wire = json.dumps(
            {**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "payload": base64.b64encode(b"a" * size).decode()}}
        )
        parsed = codec.parse_inbound(wire, max_payload_bytes=size)
        assert isinstance(parsed, Media) and parsed.payload == b"a" * size


@pytest.mark.parametrize(
    "text",
    ["{}", '{"event":"start"}', '{"event":"media","streamSid":"x","media":{"payload":"%%"}}', '{"event":"mark"}', "[]"],
)
def test_malformed_outbound_raises(text):
    with pytest.raises(MalformedMessage):
        codec.parse_outbound(text)


def test_malformed_message_hides_payload_from_reason():
    secret = base64.b64encode(b"caller audio").decode() + "!"
    wire = json.dumps({**TWILIO_MEDIA, "media": {**TWILIO_MEDIA["media"], "payload": secret}})
    with pytest.raises(MalformedMessage) as info:
        codec.parse_inbound(wire)
    assert secret not in str(info.value)
