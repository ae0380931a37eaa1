"""Access tokens (JWT), refresh tokens and API keys: issuing and reading, no storage."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from seiketsu.tenancy.models import Role

ALGORITHM = "HS256"
ISSUER = "seiketsu"
API_KEY_PREFIX = "sk_"
REFRESH_PREFIX = "rt_"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: Role
    generation: int
    expires_at: datetime


def issue_access_token(
    *,
    secret: str,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    role: Role,
    generation: int,
    now: datetime,
    ttl: timedelta,
) -> str:
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "org": str(organization_id),
        "role": role.value,
        "typ": "access",
        "gen": generation,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_access_token(token: str, *, secret: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "org", "role", "typ", "gen"]},
        )
        if claims["typ"] != "access":
            raise InvalidToken("not an access token")
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            organization_id=uuid.UUID(claims["org"]),
            role=Role(claims["role"]),
            generation=int(claims["gen"]),
            expires_at=datetime.fromtimestamp(claims["exp"]).astimezone(),
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise InvalidToken("invalid token") from exc


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_refresh_token() -> tuple[str, str]:
    """A fresh refresh token and the hash to store."""
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    return token, sha256_hex(token)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str
    prefix: str
    key_hash: str


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key=key, prefix=prefix, key_hash=sha256_hex(key))


def split_api_key(key: str) -> str:
    """The lookup prefix of a presented key; raises InvalidToken for anything not shaped like one."""
    if not key.startswith(API_KEY_PREFIX):
        raise InvalidToken("not an API key")
    prefix, sep, rest = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 12 or not rest:
        raise InvalidToken("not an API key")
    return prefix


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(sha256_hex(key), key_hash)
