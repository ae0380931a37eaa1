"""Routes: /api/v1/auth/* and /api/v1/api-keys."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth import service
from seiketsu.auth.deps import Principal, authenticate, get_container, require, scoped_session
from seiketsu.auth.models import ApiKey
from seiketsu.auth.rbac import Permission, can_assign
from seiketsu.auth.schemas import ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut, LoginIn, MeOut, ProfileIn, RefreshIn, TokenOut
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import Conflict, FieldError, Forbidden, NotFound, RateLimited, ValidationFailed
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, page_by
from seiketsu.schemas import Page
from seiketsu.tenancy.models import User

router = APIRouter(prefix="/api/v1", tags=["auth"])

LOGIN_ATTEMPTS_PER_ACCOUNT_AND_ADDRESS = 10
"""A minute's sign-in attempts at one account from one address. Per address, so that guessing from one place
never locks the account's owner out of signing in from another."""
LOGIN_ATTEMPTS_PER_ADDRESS = 30
"""A minute's sign-in attempts from one address at any account (password spraying)."""


def _token_out(pair: service.TokenPair) -> TokenOut:
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post("/auth/login", response_model=TokenOut)
def login(body: LoginIn, request: Request, container: Container = Depends(get_container)) -> TokenOut:
    # The socket's peer, or the client a trusted proxy (TRUSTED_PROXIES) names: never a header anyone can send.
    address = request.client.host if request.client else "unknown"
    account = f"{body.organization_slug.lower()}:{body.email.lower()}"
    budgets = (
        (f"login-ip:{address}", LOGIN_ATTEMPTS_PER_ADDRESS),
        (f"login:{account}:{address}", LOGIN_ATTEMPTS_PER_ACCOUNT_AND_ADDRESS),
    )
    for key, per_minute in budgets:
        verdict = container.rate_limiter.hit(key, per_minute=per_minute)
        if not verdict.allowed:
            raise RateLimited(verdict.retry_after, "too many sign-in attempts")
    pair = service.login(container, organization_slug=body.organization_slug, email=body.email, password=body.password)
    return _token_out(pair)


@router.post("/auth/refresh", response_model=TokenOut)
def refresh(body: RefreshIn, container: Container = Depends(get_container)) -> TokenOut:
    return _token_out(service.refresh(container, refresh_token=body.refresh_token))


@router.post("/auth/logout", status_code=204)
def logout(
    body: RefreshIn, principal: Principal = Depends(authenticate), container: Container = Depends(get_container)
) -> Response:
    if principal.user_id is None:
        raise Forbidden("API keys have no session to sign out of")
    service.logout(container, refresh_token=body.refresh_token, user_id=principal.user_id)
    return Response(status_code=204)


def _me(principal: Principal, user: User | None) -> MeOut:
    return MeOut(
        id=user.id if user else None,
        email=user.email if user else None,
        full_name=user.full_name if user else None,
        role=principal.role,
        organization_id=principal.organization_id,
        permissions=sorted(p.value for p in principal.permissions),
        api_key_id=principal.api_key_id,
        last_login_at=user.last_login_at if user else None,
    )


@router.get("/auth/me", response_model=MeOut)
def me(principal: Principal = Depends(authenticate), session: Session = Depends(scoped_session)) -> MeOut:
    user = session.get(User, principal.user_id) if principal.user_id else None
    return _me(principal, user)


@router.put("/auth/profile", response_model=MeOut)
def update_profile(
    body: ProfileIn,
    principal: Principal = Depends(authenticate),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> MeOut:
    if principal.user_id is None:
        raise Forbidden("API keys have no profile")
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("user not found")
    if body.new_password is not None or body.email is not None:
        if body.current_password is None or not container.passwords.verify(user.password_hash, body.current_password):
            problem = FieldError("body.currentPassword", "the current password is required and must match")
            raise ValidationFailed([problem])
    if body.email is not None and body.email.lower() != user.email:
        taken = session.scalars(
            sa.select(col(User.id)).where(sa.func.lower(col(User.email)) == body.email.lower())
        ).first()
        if taken is not None:
            raise Conflict("another user of this organization has that email")
        user.email = body.email.lower()
    if body.full_name is not None:
        user.full_name = body.full_name
    if body.new_password is not None:
        user.password_hash = container.passwords.hash(body.new_password)
        service.end_sessions(session, user)
    user.updated_at = utcnow()
    session.commit()
    return _me(principal, user)


@router.get("/api-keys", response_model=Page[ApiKeyOut])
def list_api_keys(
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    session: Session = Depends(scoped_session),
) -> Page[ApiKey]:
    created_at = datetime_field("createdAt", ApiKey.created_at)
    return page_by(session, sa.select(ApiKey), created_at, ApiKey.id, limit, cursor)


@router.post("/api-keys", response_model=ApiKeyCreatedOut, status_code=201)
def create_api_key(
    body: ApiKeyIn,
    principal: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    session: Session = Depends(scoped_session),
) -> ApiKeyCreatedOut:
    if not can_assign(principal.role, body.role):
        raise Forbidden(f"cannot create a key with role {body.role.value}")
    issued = service.create_api_key(
        session,
        organization_id=principal.organization_id,
        name=body.name,
        role=body.role,
        created_by=principal.user_id,
    )
    session.commit()
    out = ApiKeyOut.model_validate(issued.record)
    return ApiKeyCreatedOut(**out.model_dump(), key=issued.key)


@router.delete("/api-keys/{api_key_id}", status_code=204)
def revoke_api_key(
    api_key_id: uuid.UUID,
    _: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    session: Session = Depends(scoped_session),
) -> Response:
    record = session.get(ApiKey, api_key_id)
    if record is None:
        raise NotFound("API key not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.commit()
    return Response(status_code=204)
