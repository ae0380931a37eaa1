"""Endpoint signing secrets: made here, sealed at rest, two valid while a rotation's grace period runs.

The sealed value is a list of ``{"secret", "expiresAt"}``, the newest first; ``expiresAt`` is None for the
current secret. Secrets are never logged and leave the API only once, in the answer that created them.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from seiketsu.crypto import SecretBox

PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def seal(box: SecretBox, entries: list[dict[str, Any]]) -> str:
    return box.encrypt(entries)


def fresh(box: SecretBox) -> tuple[str, str]:
    """A new secret and its sealed list."""
    secret = new_secret()
    return secret, seal(box, [{"secret": secret, "expiresAt": None}])


def valid_secrets(box: SecretBox, sealed: str, *, now: datetime) -> list[str]:
    """The secrets that sign deliveries now, the newest first."""
    entries = box.decrypt(sealed)
    return [
        str(e["secret"])
        for e in entries
        if e.get("expiresAt") is None or datetime.fromisoformat(str(e["expiresAt"])) > now
    ]


def rotate(box: SecretBox, sealed: str, *, now: datetime, grace: timedelta) -> tuple[str, str]:
    """A new current secret; the one it replaces stays valid for ``grace``, older ones are dropped."""
    current = valid_secrets(box, sealed, now=now)[:1]
    secret = new_secret()
    entries: list[dict[str, Any]] = [{"secret": secret, "expiresAt": None}]
    entries += [{"secret": old, "expiresAt": (now + grace).isoformat()} for old in current]
    return secret, seal(box, entries)
