"""TwiML documents our webhooks answer with, built by the twilio SDK. Pure: each builder returns XML text.

Only ``<Connect><Stream>`` gives a bidirectional media stream (``<Start><Stream>`` is listen-only, so the
agent could never be heard); Twilio rejects a Stream url that is not ``wss://`` or that carries a query
string, so per-call data travels as ``<Parameter>`` children and arrives in ``start.customParameters``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class InvalidTwiML(ValueError):
    """A TwiML document was asked for with values Twilio would reject."""


def connect_stream(url: str, parameters: Mapping[str, str] | None = None) -> str:
    """``<Connect><Stream url>`` with one ``<Parameter>`` per entry: hands the call to our media WebSocket."""
    parts = urlsplit(url)
    if parts.scheme != "wss" or not parts.hostname:
        raise InvalidTwiML("stream url must be an absolute wss:// url")
    if parts.query or parts.fragment or "?" in url:
        raise InvalidTwiML("stream url may not carry a query string; pass data as parameters")
    response = VoiceResponse()
    stream = response.connect().stream(url=url)
    for name, value in (parameters or {}).items():
        if not name:
            raise InvalidTwiML("stream parameter names must not be empty")
        stream.parameter(name=name, value=value)
    return _xml(response)


def say_and_hang_up(message: str, *, voice: str | None = None, language: str | None = None) -> str:
    """Speak ``message`` and end the call (unknown number, over capacity, outside hours)."""
    response = VoiceResponse()
    _say(response, message, voice=voice, language=language)
    response.hangup()
    return _xml(response)


def transfer(
    to_number: str,
    *,
    caller_id: str,
    announcement: str | None = None,
    timeout_seconds: int = 30,
    voice: str | None = None,
    language: str | None = None,
) -> str:
    """Optionally announce the transfer, then ``<Dial callerId>`` the human's number (E.164)."""
    for label, number in (("transfer number", to_number), ("caller id", caller_id)):
        if not _E164.match(number):
            raise InvalidTwiML(f"{label} must be an E.164 number")
    if not 5 <= timeout_seconds <= 600:
        raise InvalidTwiML("dial timeout must be between 5 and 600 seconds")
    response = VoiceResponse()
    if announcement:
        _say(response, announcement, voice=voice, language=language)
    dial = response.dial(caller_id=caller_id, timeout=timeout_seconds)
    dial.number(to_number)
    return _xml(response)


def voicemail(
    *,
    audio_url: str | None = None,
    message: str | None = None,
    voice: str | None = None,
    language: str | None = None,
) -> str:
    """Leave a message (``<Play>`` a recording, else ``<Say>`` the text) and hang up."""
    if not audio_url and not message:
        raise InvalidTwiML("a voicemail needs an audio url or a message")
    response = VoiceResponse()
    if audio_url:
        if urlsplit(audio_url).scheme not in ("http", "https"):
            raise InvalidTwiML("voicemail audio url must be http(s)")
        response.play(audio_url)
    else:
        _say(response, message or "", voice=voice, language=language)
    response.hangup()
    return _xml(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return _xml(response)


def sms_reply(body: str | None = None) -> str:
    """Answer to an inbound text: one ``<Message>`` or, with no body, an empty response (no reply sent)."""
    response = MessagingResponse()
    if body:
        response.message(body)
    return str(response.to_xml())


def _say(response: VoiceResponse, text: str, *, voice: str | None, language: str | None) -> None:
    if not text.strip():
        raise InvalidTwiML("nothing to say")
    response.say(text, voice=voice, language=language)


def _xml(response: VoiceResponse) -> str:
    return str(response.to_xml())
