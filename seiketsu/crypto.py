"""Secrets at rest: JSON values sealed with Fernet under keys derived from ``SECRET_KEY``.

Each key is derived from a configured secret by HKDF-SHA256 with a fixed label, so the raw ``SECRET_KEY`` never
touches the cipher and the same secret yields unrelated keys for other purposes. Tokens made under a key listed
in ``SECRET_KEY_PREVIOUS`` still decrypt; :meth:`SecretBox.rotate` re-encrypts them under the current key, after
which the previous key can be retired. A box holds keys only, never plaintext, and its repr shows neither.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from seiketsu.settings import Settings

KEY_LABEL = b"seiketsu/secret-box/v1"
"""HKDF ``info``: changing it makes every stored secret unreadable, so it is fixed for good."""


class SecretBoxError(Exception):
    """A token is damaged, or was made under a key that is neither current nor previous."""


def derive_key(secret: str) -> bytes:
    """The Fernet key (url-safe base64 of 32 bytes) derived from a configured secret."""
    if not secret:
        raise ValueError("a secret key is required")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_LABEL)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


class SecretBox:
    """Encrypts JSON-able values for storage; decrypts with the current key or any previous one."""

    def __init__(self, secret: str, *, previous: Sequence[str] = ()) -> None:
        keys = [secret, *(key for key in previous if key and key != secret)]
        fernets = [Fernet(derive_key(key)) for key in keys]
        self._current = fernets[0]
        self._fernet = MultiFernet(fernets)
        self._key_count = len(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.secret_key, previous=settings.previous_secret_keys)

    def __repr__(self) -> str:
        return f"SecretBox(keys={self._key_count})"

    def encrypt(self, value: Any) -> str:
        """A token (ASCII) holding ``value`` as JSON; raises ``TypeError`` for a value JSON cannot carry."""
        plaintext = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, token: str) -> Any:
        """The value sealed in ``token``."""
        try:
            plaintext = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise SecretBoxError("cannot decrypt: damaged, or sealed under an unknown key") from exc
        return json.loads(plaintext)

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the current key (its content unchanged)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise SecretBoxError("cannot rotate: damaged, or sealed under an unknown key") from exc

    def is_current(self, token: str) -> bool:
        """Whether ``token`` decrypts under the current key alone (no rotation needed)."""
        try:
            self._current.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True
