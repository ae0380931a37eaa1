"""Permits to dial or text: values only the gate issues, which the dialer and the SMS sender verify.

A ``DialPermit`` names the decision that allowed it, the organization, the number, the channel, the voice and
purpose, and a short validity. Its HMAC-SHA256 signature uses a key derived from ``SECRET_KEY``, so code without
the key cannot make one, and a permit cannot be stretched to another number, channel or time. ``DialPermit()``
takes no arguments: permits come from ``ComplianceGate.permit`` only.

    PermitError
     ├── ForgedPermit      the signature does not match the permit's contents
     ├── ExpiredPermit     used before it was issued or after it expired
     └── PermitMismatch    presented for another number or channel
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from compliance.errors import ComplianceError
from compliance.phones import to_e164
from compliance.vocabulary import Channel, Purpose, VoiceKind

DEFAULT_PERMIT_TTL = timedelta(seconds=60)
_CLOCK_SKEW = timedelta(seconds=5)
_KEY_PURPOSE = b"seiketsu.compliance.dial-permit.v1"


class PermitError(ComplianceError):
    """A permit was refused; nothing may be dialed or sent with it."""


class ForgedPermit(PermitError):
    pass


class ExpiredPermit(PermitError):
    pass


class PermitMismatch(PermitError):
    pass


@dataclass(frozen=True, slots=True, init=False)
class DialPermit:
    """Permission, issued by the gate, to reach ``phone`` on ``channel`` until ``expires_at``."""

    decision_id: uuid.UUID
    organization_id: uuid.UUID
    phone: str
    channel: Channel
    voice: VoiceKind | None
    purpose: Purpose
    issued_at: datetime
    expires_at: datetime
    signature: str = field(repr=False)

    def to_token(self) -> str:
        """The permit as an opaque string, to hand to a job; ``PermitAuthority.from_token`` reads it back."""
        document = {**_fields(self), "sig": self.signature}
        return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode().rstrip("=")


def _fields(permit: DialPermit) -> dict[str, str]:
    return {
        "decision": str(permit.decision_id),
        "org": str(permit.organization_id),
        "phone": permit.phone,
        "channel": permit.channel.value,
        "voice": permit.voice.value if permit.voice is not None else "",
        "purpose": permit.purpose.value,
        "issued": permit.issued_at.astimezone(UTC).isoformat(),
        "expires": permit.expires_at.astimezone(UTC).isoformat(),
    }


def _message(values: dict[str, str]) -> bytes:
    return "\n".join(f"{key}={values[key]}" for key in sorted(values)).encode()


def _build(values: dict[str, str], signature: str) -> DialPermit:
    permit = object.__new__(DialPermit)
    attributes = {
        "decision_id": uuid.UUID(values["decision"]),
        "organization_id": uuid.UUID(values["org"]),
        "phone": values["phone"],
        "channel": Channel(values["channel"]),
        "voice": VoiceKind(values["voice"]) if values["voice"] else None,
        "purpose": Purpose(values["purpose"]),
        "issued_at": datetime.fromisoformat(values["issued"]),
        "expires_at": datetime.fromisoformat(values["expires"]),
        "signature": signature,
    }
    for name, value in attributes.items():
        object.__setattr__(permit, name, value)
    return permit


class PermitAuthority:
    """Signs and verifies permits with a key derived from the application's secret key."""

    def __init__(self, secret_key: str, *, ttl: timedelta = DEFAULT_PERMIT_TTL) -> None:
        self._key = hmac.new(secret_key.encode(), _KEY_PURPOSE, hashlib.sha256).digest()
        self.ttl = ttl

    def _issue(
        self,
        *,
        decision_id: uuid.UUID,
        organization_id: uuid.UUID,
        phone: str,
        channel: Channel,
        voice: VoiceKind | None,
        purpose: Purpose,
        issued_at: datetime,
    ) -> DialPermit:
        """For the gate only: a signed permit for an allowed decision."""
        values = {
            "decision": str(decision_id),
            "org": str(organization_id),
            "phone": phone,
            "channel": channel.value,
            "voice": voice.value if voice is not None and channel is Channel.VOICE else "",
            "purpose": purpose.value,
            "issued": issued_at.astimezone(UTC).isoformat(),
            "expires": (issued_at + self.ttl).astimezone(UTC).isoformat(),
        }
        return _build(values, self._sign(values))

    def _sign(self, values: dict[str, str]) -> str:
        return hmac.new(self._key, _message(values), hashlib.sha256).hexdigest()

    def verify(
        self, permit: DialPermit, *, phone: str, channel: Channel, now: datetime | None = None
    ) -> DialPermit:
        """Return ``permit`` if it is genuine, current, and for ``phone`` on ``channel``; raise PermitError if not."""
        if not isinstance(permit, DialPermit):
            raise ForgedPermit(f"not a permit: {type(permit).__name__}")
        try:
            values = _fields(permit)
            signature = permit.signature
        except (AttributeError, ValueError, TypeError) as exc:
            raise ForgedPermit("malformed permit") from exc
        if not isinstance(signature, str) or not hmac.compare_digest(signature, self._sign(values)):
            raise ForgedPermit("permit signature does not match its contents")
        moment = now or datetime.now(UTC)
        if moment < permit.issued_at - _CLOCK_SKEW:
            raise ExpiredPermit("permit used before it was issued")
        if moment >= permit.expires_at:
            raise ExpiredPermit(f"permit expired at {permit.expires_at.isoformat()}")
        try:
            wanted = to_e164(phone)
        except ComplianceError as exc:
            raise PermitMismatch("permit presented for an invalid number") from exc
        if wanted != permit.phone:
            raise PermitMismatch("permit is for another number")
        if channel is not permit.channel:
            raise PermitMismatch(f"permit is for {permit.channel.value}, not {channel.value}")
        return permit

    def from_token(self, token: str) -> DialPermit:
        """The permit a token carries, signature checked (``verify`` still checks time, number and channel)."""
        try:
            padded = token + "=" * (-len(token) % 4)
            document = json.loads(base64.urlsafe_b64decode(padded.encode()))
            signature = document.pop("sig")
            values = {key: str(document[key]) for key in _KEYS}
            if set(document) != set(_KEYS) or not isinstance(signature, str):
                raise ValueError("unexpected fields")
            permit = _build(values, signature)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise ForgedPermit("malformed permit token") from exc
        if not hmac.compare_digest(signature, self._sign(_fields(permit))):
            raise ForgedPermit("permit signature does not match its contents")
        return permit


_KEYS = ("decision", "org", "phone", "channel", "voice", "purpose", "issued", "expires")
