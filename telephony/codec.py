"""Twilio Media Streams messages <-> typed values. Pure: no I/O, no clock, no logging.

Both directions of the protocol are here so that the server and the call simulator share one codec:

* Twilio -> server ("inbound"): :class:`Connected`, :class:`Start`, :class:`Media`, :class:`Dtmf`,
  :class:`Mark` (the echo of a mark the server sent) and :class:`Stop`. The server parses them with
  :func:`parse_inbound`; the simulator produces them with :func:`encode_inbound`.
* server -> Twilio ("outbound"): :class:`OutboundMedia`, :class:`OutboundMark` and :class:`Clear`. The
  server produces them with :func:`encode_outbound` (or the hot-path helpers :func:`encode_media`,
  :func:`encode_mark`, :func:`encode_clear`); the simulator parses them with :func:`parse_outbound`.

Anything that does not parse raises :class:`MalformedMessage`; the caller logs it and skips the message.
Twilio sends every number except ``mediaFormat``'s as a JSON string; both forms are accepted on input, and the
encoders write what Twilio writes.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

DEFAULT_MAX_INBOUND_PAYLOAD = 16 * 1024
"""Largest decoded caller payload accepted (2 s of mu-law; Twilio sends 20 ms frames)."""

DEFAULT_MAX_OUTBOUND_PAYLOAD = 2 * 1024 * 1024
"""Largest decoded agent payload the simulator accepts (over 4 minutes of mu-law)."""

_JSON_OVERHEAD = 4096
"""Room for everything but the payload when bounding a message's size before parsing it."""

DTMF_DIGITS = frozenset("0123456789*#ABCD")


class MalformedMessage(ValueError):
    """A Media Streams message that cannot be understood; ``reason`` says why (never the payload)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- Twilio -> server


@dataclass(frozen=True, slots=True)
class MediaFormat:
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str = "Call"
    version: str = "1.0.0"


@dataclass(frozen=True, slots=True)
class Start:
    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...] = ("inbound",)
    media_format: MediaFormat = MediaFormat()
    custom_parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Media:
    sequence_number: int
    stream_sid: str
    track: str
    chunk: int
    timestamp: int
    """Milliseconds since the stream started."""
    payload: bytes
    """Raw mu-law 8 kHz mono."""


@dataclass(frozen=True, slots=True)
class Dtmf:
    sequence_number: int
    stream_sid: str
    digit: str
    track: str = "inbound_track"


@dataclass(frozen=True, slots=True)
class Mark:
    """Twilio's echo of a mark: everything the server sent before it has played (or was cleared)."""

    sequence_number: int
    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class Stop:
    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str


InboundMessage = Connected | Start | Media | Dtmf | Mark | Stop


# --- server -> Twilio


@dataclass(frozen=True, slots=True)
class OutboundMedia:
    stream_sid: str
    payload: bytes
    """Raw mu-law 8 kHz mono, no file header, any length."""


@dataclass(frozen=True, slots=True)
class OutboundMark:
    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class Clear:
    stream_sid: str


OutboundMessage = OutboundMedia | OutboundMark | Clear


# --- server side: parse inbound, encode outbound


def parse_inbound(text: str | bytes, *, max_payload_bytes: int = DEFAULT_MAX_INBOUND_PAYLOAD) -> InboundMessage:
    """Parse one message from Twilio; raises :class:`MalformedMessage`."""
    msg = _load_object(text, max_payload_bytes)
    event = msg.get("event")
    if event == "media":
        body = _object(msg, "media")
        return Media(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_str(msg, "streamSid"),
            track=_str(body, "track"),
            chunk=_int(body, "chunk"),
            timestamp=_int(body, "timestamp"),
            payload=_payload(body, max_payload_bytes),
        )
    if event == "mark":
        return Mark(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_str(msg, "streamSid"),
            name=_str(_object(msg, "mark"), "name"),
        )
    if event == "start":
        return _parse_start(msg)
    if event == "dtmf":
        body = _object(msg, "dtmf")
        digit = _str(body, "digit")
        if digit not in DTMF_DIGITS:
            raise MalformedMessage("dtmf.digit is not a DTMF digit")
        return Dtmf(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_str(msg, "streamSid"),
            digit=digit,
            track=_str(body, "track"),
        )
    if event == "stop":
        body = _object(msg, "stop")
        return Stop(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_str(msg, "streamSid"),
            account_sid=_str(body, "accountSid"),
            call_sid=_str(body, "callSid"),
        )
    if event == "connected":
        return Connected(protocol=_str(msg, "protocol"), version=_str(msg, "version"))
    raise MalformedMessage(_unknown_event(event))


def _parse_start(msg: dict[str, Any]) -> Start:
    body = _object(msg, "start")
    tracks = body.get("tracks")
    if not isinstance(tracks, list) or not tracks or not all(isinstance(t, str) for t in tracks):
        raise MalformedMessage("start.tracks must be a non-empty list of strings")
    fmt = _object(body, "mediaFormat")
    params = body.get("customParameters", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise MalformedMessage("start.customParameters must be an object of strings")
    return Start(
        sequence_number=_int(msg, "sequenceNumber"),
        stream_sid=_str(msg, "streamSid"),
        account_sid=_str(body, "accountSid"),
        call_sid=_str(body, "callSid"),
        tracks=tuple(tracks),
        media_format=MediaFormat(
            encoding=_str(fmt, "encoding"),
            sample_rate=_int(fmt, "sampleRate"),
            channels=_int(fmt, "channels"),
        ),
        custom_parameters=dict(params),
    )


def encode_media(stream_sid: str, payload: bytes) -> str:
    """The ``media`` message playing ``payload`` (mu-law) to the caller; the hot path, built without json."""
    b64 = binascii.b2a_base64(payload, newline=False).decode("ascii")
    return '{"event":"media","streamSid":' + _json_string(stream_sid) + ',"media":{"payload":"' + b64 + '"}}'


def encode_mark(stream_sid: str, name: str) -> str:
    return '{"event":"mark","streamSid":' + _json_string(stream_sid) + ',"mark":{"name":' + _json_string(name) + "}}"


def encode_clear(stream_sid: str) -> str:
    return '{"event":"clear","streamSid":' + _json_string(stream_sid) + "}"


def encode_outbound(message: OutboundMessage) -> str:
    """Serialize a server -> Twilio message to JSON text."""
    if isinstance(message, OutboundMedia):
        return encode_media(message.stream_sid, message.payload)
    if isinstance(message, OutboundMark):
        return encode_mark(message.stream_sid, message.name)
    return encode_clear(message.stream_sid)


# --- Twilio side (the simulator): parse outbound, encode inbound


def parse_outbound(text: str | bytes, *, max_payload_bytes: int = DEFAULT_MAX_OUTBOUND_PAYLOAD) -> OutboundMessage:
    """Parse one message the server sent to Twilio; raises :class:`MalformedMessage`."""
    msg = _load_object(text, max_payload_bytes)
    event = msg.get("event")
    if event == "media":
        return OutboundMedia(
            stream_sid=_str(msg, "streamSid"), payload=_payload(_object(msg, "media"), max_payload_bytes)
        )
    if event == "mark":
        return OutboundMark(stream_sid=_str(msg, "streamSid"), name=_str(_object(msg, "mark"), "name"))
    if event == "clear":
        return Clear(stream_sid=_str(msg, "streamSid"))
    raise MalformedMessage(_unknown_event(event))


def encode_inbound_media(
    stream_sid: str,
    *,
    sequence_number: int,
    chunk: int,
    timestamp: int,
    payload: bytes,
    track: str = "inbound",
) -> str:
    """The caller's ``media`` message as Twilio writes it; the simulator's hot path, built without json."""
    b64 = binascii.b2a_base64(payload, newline=False).decode("ascii")
    return (
        f'{{"event":"media","sequenceNumber":"{sequence_number}","streamSid":{_json_string(stream_sid)},'
        f'"media":{{"track":{_json_string(track)},"chunk":"{chunk}","timestamp":"{timestamp}",'
        f'"payload":"{b64}"}}}}'
    )


def encode_inbound(message: InboundMessage) -> str:
    """Serialize a Twilio -> server message to JSON text exactly as Twilio shapes it."""
    if isinstance(message, Media):
        return encode_inbound_media(
            message.stream_sid,
            sequence_number=message.sequence_number,
            chunk=message.chunk,
            timestamp=message.timestamp,
            payload=message.payload,
            track=message.track,
        )
    return json.dumps(_inbound_object(message), separators=(",", ":"))


def _inbound_object(message: InboundMessage) -> dict[str, Any]:
    if isinstance(message, Connected):
        return {"event": "connected", "protocol": message.protocol, "version": message.version}
    head = {"sequenceNumber": str(message.sequence_number), "streamSid": message.stream_sid}
    if isinstance(message, Start):
        fmt = message.media_format
        start = {
            "accountSid": message.account_sid,
            "streamSid": message.stream_sid,
            "callSid": message.call_sid,
            "tracks": list(message.tracks),
            "mediaFormat": {
                "encoding": fmt.encoding,
                "sampleRate": fmt.sample_rate,
                "channels": fmt.channels,
            },
            "customParameters": dict(message.custom_parameters),
        }
        return {"event": "start", **head, "start": start}
    if isinstance(message, Mark):
        return {"event": "mark", **head, "mark": {"name": message.name}}
    if isinstance(message, Dtmf):
        return {"event": "dtmf", **head, "dtmf": {"track": message.track, "digit": message.digit}}
    if isinstance(message, Stop):
        return {
            "event": "stop",
            **head,
            "stop": {"accountSid": message.account_sid, "callSid": message.call_sid},
        }
    raise TypeError(f"not an inbound message: {type(message).__name__}")


# --- field access


def _load_object(text: str | bytes, max_payload_bytes: int) -> dict[str, Any]:
    # Bound the size before parsing: base64 grows the payload by 4/3.
    if len(text) > max_payload_bytes * 4 // 3 + _JSON_OVERHEAD:
        raise MalformedMessage("message too large")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedMessage("not valid JSON") from exc
    if not isinstance(msg, dict):
        raise MalformedMessage("not a JSON object")
    return msg


def _unknown_event(event: object) -> str:
    if isinstance(event, str):
        return f"unknown event {event[:32]!r}"
    return "missing event"


def _object(msg: dict[str, Any], key: str) -> dict[str, Any]:
    value = msg.get(key)
    if not isinstance(value, dict):
        raise MalformedMessage(f"{key} must be an object")
    return value


def _str(msg: dict[str, Any], key: str) -> str:
    value = msg.get(key)
    if not isinstance(value, str):
        raise MalformedMessage(f"{key} must be a string")
    return value


def _int(msg: dict[str, Any], key: str) -> int:
    value = msg.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise MalformedMessage(f"{key} must be a non-negative integer")


def _payload(body: dict[str, Any], max_payload_bytes: int) -> bytes:
    b64 = body.get("payload")
    if not isinstance(b64, str):
        raise MalformedMessage("media.payload must be a string")
    if len(b64) > (max_payload_bytes + 2) // 3 * 4:
        raise MalformedMessage("media.payload too large")
    try:
        return binascii.a2b_base64(b64, strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII characters
        raise MalformedMessage("media.payload is not valid base64") from exc
