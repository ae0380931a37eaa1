"""Proving who sent an inbound webhook: one pure check per provider, over the raw body bytes, in constant time.

Each check raises :class:`InvalidSignature` (missing, malformed, wrong or stale) and returns nothing on success.

* HubSpot v3: base64(HMAC-SHA256(client secret, method + URI + body + timestamp)), timestamp (epoch ms) at most
  five minutes old.
* Follow Up Boss: hex(HMAC-SHA256(system key, base64(body))) in ``FUB-Signature``.
* Pipedrive: HTTP Basic credentials configured on the webhook (Pipedrive signs nothing).
* Zoho: the channel ``token`` echoed in the notification body (Zoho signs nothing).
* Generic: Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_AGE = timedelta(minutes=5)


class InvalidSignature(Exception):
    """The request does not prove it came from the configured sender."""


def _equal(a: str | bytes, b: str | bytes) -> bool:
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def hubspot_v3_signature(*, client_secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot(
    *,
    client_secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> None:
    signature = headers.get("x-hubspot-signature-v3")
    timestamp = headers.get("x-hubspot-request-timestamp")
    if not signature or not timestamp:
        raise InvalidSignature("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
    try:
        sent_at = datetime.fromtimestamp(int(timestamp) / 1000, tz=now.tzinfo)
    except (ValueError, OverflowError, OSError) as exc:
        raise InvalidSignature("malformed X-HubSpot-Request-Timestamp") from exc
    if abs(now - sent_at) > MAX_AGE:
        raise InvalidSignature("stale X-HubSpot-Request-Timestamp")
    expected = hubspot_v3_signature(client_secret=client_secret, method=method, uri=uri, body=body, timestamp=timestamp)
    if not _equal(expected, signature):
        raise InvalidSignature("X-HubSpot-Signature-v3 does not match")


def followupboss_signature(*, system_key: str, body: bytes) -> str:
    return hmac.new(system_key.encode(), base64.b64encode(body), hashlib.sha256).hexdigest()


def verify_followupboss(*, system_key: str, body: bytes, headers: Mapping[str, str]) -> None:
    signature = headers.get("fub-signature")
    if not signature:
        raise InvalidSignature("missing FUB-Signature")
    if not _equal(followupboss_signature(system_key=system_key, body=body), signature.strip().lower()):
        raise InvalidSignature("FUB-Signature does not match")


def verify_basic_auth(*, username: str, password: str, headers: Mapping[str, str]) -> None:
    authorization = headers.get("authorization", "")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise InvalidSignature("missing Basic credentials")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature("malformed Basic credentials") from exc
    # Both halves are compared, whatever the first gives, so timing tells nothing about which was wrong.
    user, _, secret = given.partition(b":")
    user_ok = _equal(user, username)
    secret_ok = _equal(secret, password)
    if not (user_ok and secret_ok):
        raise InvalidSignature("Basic credentials do not match")


def verify_token(*, expected: str, given: object) -> None:
    if not isinstance(given, str) or not given:
        raise InvalidSignature("missing token")
    if not _equal(expected, given):
        raise InvalidSignature("token does not match")


def verify_standard(*, secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check a Standard Webhooks signature (timestamp within five minutes); returns the ``webhook-id``."""
    try:
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidSignature(f"webhook-signature: {exc}") from exc
    return headers["webhook-id"]


def sign_standard(*, secrets: list[str], message_id: str, timestamp: datetime, body: str) -> str:
    """The ``webhook-signature`` value: one ``v1,`` signature per secret, space-separated (rotation)."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)
