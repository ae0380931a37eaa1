"""Who may talk to our Twilio edge: webhook signatures and the media stream's short-lived token. Pure.

* ``X-Twilio-Signature`` is Twilio's HMAC of the full URL it requested plus the sorted POST parameters, keyed
  with the account's auth token; the twilio SDK's ``RequestValidator`` computes and checks it. The URL must be
  the public one Twilio saw (``PUBLIC_BASE_URL`` + path + query), never the one a proxy forwarded to us.
* The stream token travels as a ``<Parameter>`` of ``<Connect><Stream>`` (the stream url may carry no query
  string) and comes back in ``start.customParameters``; it binds the WebSocket to one call for a short time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"

FormParams = Mapping[str, str] | Iterable[tuple[str, str]]
"""POST parameters: a plain mapping, or (name, value) pairs when a name repeats."""


def webhook_url(public_base_url: str, path: str, query_string: str = "") -> str:
    """The URL Twilio requested: our public base URL, the request path and its raw query string, if any."""
    url = public_base_url.rstrip("/") + "/" + path.lstrip("/")
    return f"{url}?{query_string}" if query_string else url


class _Params(dict[str, list[str]]):
    """Repeated form fields in the shape the SDK's validator reads (``getlist``)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def _params(params: FormParams | None) -> _Params:
    out = _Params()
    items = params.items() if isinstance(params, Mapping) else (params or ())
    for name, value in items:
        out.setdefault(name, []).append(value)
    return out


def compute_twilio_signature(auth_token: str, url: str, params: FormParams | None = None) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for a POST of ``params`` to ``url``."""
    return str(RequestValidator(auth_token).compute_signature(url, _params(params)))


def is_valid_twilio_signature(*, auth_token: str, url: str, params: FormParams | None, signature: str | None) -> bool:
    """Check a request's ``X-Twilio-Signature`` (missing or empty is invalid)."""
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, _params(params), signature))


class TwilioSignatureValidator:
    """Checks webhook signatures for one deployment; auth token and public base URL are fixed at start-up."""

    def __init__(self, *, auth_token: str, public_base_url: str) -> None:
        if not auth_token:
            raise ValueError("an auth token is required to check Twilio signatures")
        self._validator = RequestValidator(auth_token)
        self._base_url = public_base_url

    def is_valid(self, *, path: str, params: FormParams | None, signature: str | None, query_string: str = "") -> bool:
        if not signature:
            return False
        url = webhook_url(self._base_url, path, query_string)
        return bool(self._validator.validate(url, _params(params), signature))


# --- stream tokens

_TOKEN_CONTEXT = b"seiketsu.stream-token.v1."
_MAX_TOKEN_LENGTH = 1024
_TOKEN_SHAPE = re.compile(r"^[0-9]{1,16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}\Z")
"""Expiry in Unix milliseconds, the call id and an HMAC-SHA256, both unpadded base64url."""


class StreamTokenError(Exception):
    """A media-stream token that does not admit the connection."""


class InvalidStreamToken(StreamTokenError):
    """Malformed, forged or signed with another secret."""


class ExpiredStreamToken(StreamTokenError):
    """Genuine but past its expiry."""


def issue_stream_token(secret: str | bytes, call_id: str, *, ttl: float, now: float) -> str:
    """A token admitting the media stream of ``call_id`` until ``now + ttl`` (Unix seconds)."""
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    if not call_id:
        raise ValueError("call_id must not be empty")
    expires_ms = int((now + ttl) * 1000)
    payload = f"{expires_ms}.{_b64(call_id.encode())}"
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify_stream_token(secret: str | bytes, token: str, *, now: float) -> str:
    """The call id ``token`` admits; raises :class:`InvalidStreamToken` or :class:`ExpiredStreamToken`."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH or not _TOKEN_SHAPE.match(token):
        raise InvalidStreamToken("malformed stream token")
    payload, _, signature = token.rpartition(".")
    expires, _, call_id_b64 = payload.partition(".")
    try:
        given = _unb64(signature)
        call_id = _unb64(call_id_b64).decode()
    except (binascii.Error, ValueError) as exc:
        raise InvalidStreamToken("malformed stream token") from exc
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise InvalidStreamToken("stream token signature mismatch")
    if now * 1000 >= int(expires):
        raise ExpiredStreamToken("stream token expired")
    return call_id


def _mac(secret: str | bytes, payload: str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the stream token secret must not be empty")
    return hmac.new(key, _TOKEN_CONTEXT + payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
