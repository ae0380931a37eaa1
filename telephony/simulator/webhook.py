"""The simulator's first move, as Twilio makes it: POST the signed voice webhook and read the TwiML answer."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from telephony.signatures import SIGNATURE_HEADER, compute_twilio_signature, webhook_url

API_VERSION = "2010-04-01"


class SimulatorError(Exception):
    """The simulated call could not go ahead (server unreachable, refused or answering nonsense)."""


class WebhookRejected(SimulatorError):
    def __init__(self, status: int, body: str, *, webhook: str = "voice webhook") -> None:
        super().__init__(f"{webhook} answered HTTP {status}: {body[:200]}")
        self.status = status


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class TwimlAnswer:
    """What the server's TwiML tells Twilio to do, as far as the simulator follows it."""

    stream_url: str | None = None
    """The ``<Connect><Stream url>``, if any."""
    parameters: dict[str, str] = field(default_factory=dict)
    said: tuple[str, ...] = ()
    hangs_up: bool = False
    dialed: tuple[str, ...] = ()


def parse_twiml_answer(document: str) -> TwimlAnswer:
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise SimulatorError("voice webhook answered invalid XML") from exc
    if root.tag != "Response":
        raise SimulatorError(f"TwiML root is <{root.tag}>, not <Response>")
    stream = root.find("./Connect/Stream")
    stream_url = stream.get("url") if stream is not None else None
    if stream is not None and not stream_url:
        raise SimulatorError("<Stream> without a url")
    parameters = {}
    if stream is not None:
        for param in stream.findall("Parameter"):
            name = param.get("name")
            if name:
                parameters[name] = param.get("value", "")
    return TwimlAnswer(
        stream_url=stream_url,
        parameters=parameters,
        said=tuple((say.text or "") for say in root.iter("Say")),
        hangs_up=root.find("Hangup") is not None,
        dialed=tuple((n.text or "") for n in root.iter("Number")),
    )


@dataclass(frozen=True, slots=True)
class CallIdentity:
    call_sid: str
    account_sid: str
    from_number: str
    to_number: str


def voice_webhook_params(call: CallIdentity) -> dict[str, str]:
    """The form Twilio posts when an inbound call rings."""
    return {
        "AccountSid": call.account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call.call_sid,
        "CallStatus": "ringing",
        "Called": call.to_number,
        "Caller": call.from_number,
        "Direction": "inbound",
        "From": call.from_number,
        "To": call.to_number,
    }


def status_callback_params(call: CallIdentity, *, status: str, duration: float | None = None) -> dict[str, str]:
    """The form Twilio posts to the status callback: ``in-progress`` once answered, ``completed`` with the
    call's duration once it has ended."""
    params = {**voice_webhook_params(call), "CallStatus": status}
    if duration is not None:
        params["CallDuration"] = str(round(duration))
    return params


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where the simulated Twilio posts its webhooks (``server_url``) and the URL it signs them for, as Twilio
    signs the public one (``public_base_url``)."""

    server_url: str
    public_base_url: str
    auth_token: str

    async def post(self, http: httpx.AsyncClient, path: str, params: dict[str, str]) -> httpx.Response:
        signature = compute_twilio_signature(self.auth_token, webhook_url(self.public_base_url, path), params)
        try:
            url = webhook_url(self.server_url, path)
            return await http.post(url, data=params, headers={SIGNATURE_HEADER: signature})
        except httpx.HTTPError as exc:
            raise SimulatorError(f"cannot reach the webhook {path}: {exc!r}") from exc


async def post_voice_webhook(
    http: httpx.AsyncClient, call: CallIdentity, target: WebhookTarget, *, path: str = "/twilio/voice"
) -> TwimlAnswer:
    """POST the signed webhook of a ringing call and read the TwiML answer."""
    response = await target.post(http, path, voice_webhook_params(call))
    if response.status_code != 200:
        raise WebhookRejected(response.status_code, response.text)
    return parse_twiml_answer(response.text)


async def post_status_callback(
    http: httpx.AsyncClient,
    call: CallIdentity,
    target: WebhookTarget,
    *,
    path: str,
    status: str,
    duration: float | None = None,
) -> None:
    """POST a signed status of the call; any answer but 2xx is an error."""
    response = await target.post(http, path, status_callback_params(call, status=status, duration=duration))
    if not response.is_success:
        raise WebhookRejected(response.status_code, response.text, webhook="status callback")


def rewrite_stream_url(stream_url: str, stream_base_url: str | None) -> str:
    """Point the TwiML's ``wss://`` url at ``stream_base_url``'s scheme and host (e.g. ``ws://127.0.0.1:8000``)."""
    if not stream_base_url:
        return stream_url
    base = urlsplit(stream_base_url)
    target = urlsplit(stream_url)
    prefix = base.path.rstrip("/")
    return urlunsplit((base.scheme, base.netloc, prefix + target.path, target.query, ""))
