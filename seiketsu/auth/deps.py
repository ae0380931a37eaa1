"""Who is calling: authentication, the permission check every route declares, and the scoped session."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.models import ApiKey
from seiketsu.auth.rbac import Permission, permissions_for
from seiketsu.auth.tokens import InvalidToken, api_key_matches, read_access_token, split_api_key
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import Forbidden, RateLimited, Unauthorized
from seiketsu.tenancy.models import Organization, Role, User
from seiketsu.tenancy.scoping import system_session, tenant_session

logger = logging.getLogger(__name__)

API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: uuid.UUID
    role: Role
    permissions: frozenset[Permission]
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None

    @property
    def is_super_admin(self) -> bool:
        return self.role is Role.SUPER_ADMIN


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _from_bearer(container: Container, token: str) -> tuple[Principal, Organization]:
    try:
        claims = read_access_token(token, secret=container.settings.secret_key)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc
    with system_session(container.sessions) as session:
        row = session.execute(
            sa.select(User, Organization)
            .join(Organization, col(Organization.id) == User.organization_id)
            .where(col(User.id) == claims.user_id, col(User.organization_id) == claims.organization_id)
        ).one_or_none()
    if row is None or not row[0].is_active or not row[1].is_active:
        raise Unauthorized("invalid token")
    user, org = row
    if user.session_generation != claims.generation:
        raise Unauthorized("session ended: sign in again")
    principal = Principal(
        organization_id=org.id, role=user.role, permissions=permissions_for(user.role), user_id=user.id
    )
    return principal, org


def _from_api_key(container: Container, key: str) -> tuple[Principal, Organization]:
    try:
        prefix = split_api_key(key)
    except InvalidToken as exc:
        raise Unauthorized("invalid API key") from exc
    with system_session(container.sessions) as session:
        row = session.execute(
            sa.select(ApiKey, Organization)
            .join(Organization, col(Organization.id) == ApiKey.organization_id)
            .where(col(ApiKey.prefix) == prefix)
        ).one_or_none()
        if row is None or not api_key_matches(key, row[0].key_hash):
            raise Unauthorized("invalid API key")
        api_key, org = row
        if api_key.revoked_at is not None or not org.is_active:
            raise Unauthorized("invalid API key")
        now = utcnow()
        if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
            session.execute(sa.update(ApiKey).where(col(ApiKey.id) == api_key.id).values(last_used_at=now))
            session.commit()
    principal = Principal(
        organization_id=org.id, role=api_key.role, permissions=permissions_for(api_key.role), api_key_id=api_key.id
    )
    return principal, org


def _rate_limit(container: Container, principal: Principal, org: Organization) -> None:
    keys = [f"org:{org.id}"]
    if principal.api_key_id is not None:
        keys.append(f"key:{principal.api_key_id}")
    for key in keys:
        try:
            verdict = container.rate_limiter.hit(key, per_minute=org.api_requests_per_minute)
        except Exception:
            # A rate limiter outage must not take the API down with it.
            logger.exception("rate limiter unavailable; request allowed")
            return
        if not verdict.allowed:
            raise RateLimited(verdict.retry_after)


def authenticate(request: Request, container: Container = Depends(get_container)) -> Principal:
    authorization = request.headers.get("authorization", "")
    api_key = request.headers.get("x-api-key")
    if authorization.lower().startswith("bearer "):
        principal, org = _from_bearer(container, authorization[7:].strip())
    elif api_key:
        principal, org = _from_api_key(container, api_key.strip())
    else:
        raise Unauthorized("missing credentials: send a Bearer token or an X-API-Key header")
    _rate_limit(container, principal, org)
    request.state.principal = principal
    return principal


def require(*permissions: Permission) -> Callable[..., Principal]:
    """The dependency every protected route declares: authenticated, and holding every permission named."""
    needed = frozenset(permissions)

    def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        missing = needed - principal.permissions
        if missing:
            raise Forbidden(f"missing permission: {', '.join(sorted(missing))}")
        return principal

    dependency.required_permissions = needed  # type: ignore[attr-defined]
    return dependency


def scoped_session(
    principal: Principal = Depends(authenticate), container: Container = Depends(get_container)
) -> Iterator[Session]:
    """A session that sees the caller's organization only; handlers commit what they change."""
    with tenant_session(container.sessions, principal.organization_id) as session:
        yield session
