"""Sign-in, refresh-token rotation with reuse detection, sign-out, and API key issuance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.models import ApiKey, RefreshToken
from seiketsu.auth.tokens import issue_access_token, new_api_key, new_refresh_token, sha256_hex
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import Unauthorized
from seiketsu.tenancy.models import Organization, Role, User
from seiketsu.tenancy.scoping import system_session


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def _issue_pair(
    container: Container, session: Session, user: User, *, family_id: uuid.UUID, now: datetime
) -> TokenPair:
    settings = container.settings
    refresh, refresh_hash = new_refresh_token()
    session.add(
        RefreshToken(
            organization_id=user.organization_id,
            user_id=user.id,
            family_id=family_id,
            token_hash=refresh_hash,
            generation=user.session_generation,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    access = issue_access_token(
        secret=settings.secret_key,
        user_id=user.id,
        organization_id=user.organization_id,
        role=user.role,
        generation=user.session_generation,
        now=now,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
    )
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=settings.access_token_ttl_seconds)


def login(container: Container, *, organization_slug: str, email: str, password: str) -> TokenPair:
    now = utcnow()
    with system_session(container.sessions) as session:
        user = session.scalars(
            sa.select(User)
            .join(Organization, col(Organization.id) == User.organization_id)
            .where(col(Organization.slug) == organization_slug.lower(), col(Organization.is_active).is_(True))
            .where(sa.func.lower(col(User.email)) == email.lower())
        ).one_or_none()
        valid = container.passwords.verify(user.password_hash if user else None, password)
        if user is None or not valid or not user.is_active:
            raise Unauthorized("invalid email, password or organization")
        if container.passwords.needs_rehash(user.password_hash):
            user.password_hash = container.passwords.hash(password)
        user.last_login_at = now
        pair = _issue_pair(container, session, user, family_id=uuid.uuid4(), now=now)
        session.commit()
        return pair


def _revoke_family(session: Session, family_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        sa.update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def refresh(container: Container, *, refresh_token: str) -> TokenPair:
    """Rotate a refresh token. Presenting one that was already rotated revokes its whole family."""
    now = utcnow()
    with system_session(container.sessions) as session:
        stored = session.scalars(
            sa.select(RefreshToken).where(col(RefreshToken.token_hash) == sha256_hex(refresh_token)).with_for_update()
        ).one_or_none()
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise Unauthorized("invalid refresh token")
        if stored.rotated_at is not None:
            _revoke_family(session, stored.family_id, now)
            session.commit()
            raise Unauthorized("refresh token reused; every session of this sign-in was revoked")
        user = session.get(User, stored.user_id)
        org = session.get(Organization, stored.organization_id)
        if user is None or org is None or not user.is_active or not org.is_active:
            raise Unauthorized("invalid refresh token")
        if stored.generation != user.session_generation:
            raise Unauthorized("session ended: sign in again")
        stored.rotated_at = now
        pair = _issue_pair(container, session, user, family_id=stored.family_id, now=now)
        session.commit()
        return pair


def end_sessions(session: Session, user: User) -> None:
    """End every session of ``user``, the caller's own included: after a password change, a reset or deactivation.

    Raising the generation is what refuses the older access and refresh tokens, even one issued by a refresh
    that commits concurrently; revoking the stored refresh tokens records it.
    """
    user.session_generation += 1
    session.execute(
        sa.update(RefreshToken)
        .where(col(RefreshToken.user_id) == user.id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


def logout(container: Container, *, refresh_token: str, user_id: uuid.UUID) -> None:
    now = utcnow()
    with system_session(container.sessions) as session:
        stored = session.scalars(
            sa.select(RefreshToken).where(
                col(RefreshToken.token_hash) == sha256_hex(refresh_token), col(RefreshToken.user_id) == user_id
            )
        ).one_or_none()
        if stored is None:
            raise Unauthorized("invalid refresh token")
        _revoke_family(session, stored.family_id, now)
        session.commit()


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    record: ApiKey
    key: str


def create_api_key(
    session: Session, *, organization_id: uuid.UUID, name: str, role: Role, created_by: uuid.UUID | None
) -> IssuedApiKey:
    """Store a new key's hash; the key itself is returned once and never again."""
    issued = new_api_key()
    record = ApiKey(
        organization_id=organization_id,
        name=name,
        prefix=issued.prefix,
        key_hash=issued.key_hash,
        role=role,
        created_by_user_id=created_by,
    )
    session.add(record)
    return IssuedApiKey(record=record, key=issued.key)
