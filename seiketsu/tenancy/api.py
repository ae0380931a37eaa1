"""Routes: /api/v1/organizations, /api/v1/organizations/{id}/users, /api/v1/phone-numbers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.deps import Principal, get_container, require, scoped_session
from seiketsu.auth.rbac import Permission, can_assign
from seiketsu.auth.service import end_sessions
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_by, text_field
from seiketsu.phones import InvalidPhoneNumber
from seiketsu.schemas import Page
from seiketsu.tenancy.models import Organization, PhoneNumber, User
from seiketsu.tenancy.schemas import (
    OrganizationIn,
    OrganizationOut,
    OrganizationUpdate,
    PhoneNumberIn,
    PhoneNumberOut,
    UserIn,
    UserOut,
    UserUpdate,
)
from seiketsu.tenancy.scoping import system_session, tenant_session
from seiketsu.tenancy.service import add_phone_number

router = APIRouter(prefix="/api/v1", tags=["organizations"])


def _org_session(container: Container, principal: Principal, organization_id: uuid.UUID) -> Session:
    """A session scoped to the organization in the path; another organization is 404 unless super admin."""
    if organization_id != principal.organization_id and not principal.is_super_admin:
        raise NotFound("organization not found")
    return tenant_session(container.sessions, organization_id)


def org_session_for(permission: Permission):  # type: ignore[no-untyped-def]
    def dependency(
        organization_id: uuid.UUID,
        principal: Principal = Depends(require(permission)),
        container: Container = Depends(get_container),
    ) -> Iterator[Session]:
        with _org_session(container, principal, organization_id) as session:
            if session.get(Organization, organization_id) is None:
                raise NotFound("organization not found")
            yield session

    return dependency


@router.get("/organizations", response_model=Page[OrganizationOut])
def list_organizations(
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    principal: Principal = Depends(require(Permission.ORGANIZATION_READ)),
    container: Container = Depends(get_container),
) -> Page[Organization]:
    with system_session(container.sessions) as session:
        query = sa.select(Organization)
        if not principal.is_super_admin:
            query = query.where(col(Organization.id) == principal.organization_id)
        return page_by(session, query, text_field("slug", Organization.slug), Organization.id, limit, cursor)


@router.post("/organizations", response_model=OrganizationOut, status_code=201)
def create_organization(
    body: OrganizationIn,
    _: Principal = Depends(require(Permission.ORGANIZATION_CREATE)),
    container: Container = Depends(get_container),
) -> Organization:
    with system_session(container.sessions) as session:
        if session.scalars(sa.select(col(Organization.id)).where(col(Organization.slug) == body.slug)).first():
            raise Conflict(f"an organization with slug {body.slug!r} exists")
        org = Organization(**body.model_dump())
        session.add(org)
        session.commit()
        return org


@router.get("/organizations/{organization_id}", response_model=OrganizationOut)
def get_organization(
    organization_id: uuid.UUID, session: Session = Depends(org_session_for(Permission.ORGANIZATION_READ))
) -> Organization:
    org = session.get(Organization, organization_id)
    assert org is not None
    return org


@router.put("/organizations/{organization_id}", response_model=OrganizationOut)
def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationUpdate,
    principal: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    session: Session = Depends(org_session_for(Permission.ORGANIZATION_UPDATE)),
) -> Organization:
    org = session.get(Organization, organization_id)
    assert org is not None
    changes = body.model_dump(exclude_unset=True)
    if "is_active" in changes and not principal.is_super_admin:
        raise Forbidden("only a super admin can activate or deactivate an organization")
    for field, value in changes.items():
        setattr(org, field, value)
    org.updated_at = utcnow()
    session.commit()
    return org


@router.delete("/organizations/{organization_id}", status_code=204)
def deactivate_organization(
    organization_id: uuid.UUID, session: Session = Depends(org_session_for(Permission.ORGANIZATION_DELETE))
) -> Response:
    org = session.get(Organization, organization_id)
    assert org is not None
    org.is_active = False
    org.updated_at = utcnow()
    session.commit()
    return Response(status_code=204)


@router.get("/organizations/{organization_id}/users", response_model=Page[UserOut])
def list_users(
    organization_id: uuid.UUID,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    session: Session = Depends(org_session_for(Permission.USER_READ)),
) -> Page[User]:
    return page_by(session, sa.select(User), text_field("email", User.email), User.id, limit, cursor)


@router.post("/organizations/{organization_id}/users", response_model=UserOut, status_code=201)
def create_user(
    organization_id: uuid.UUID,
    body: UserIn,
    principal: Principal = Depends(require(Permission.USER_CREATE)),
    session: Session = Depends(org_session_for(Permission.USER_CREATE)),
    container: Container = Depends(get_container),
) -> User:
    if not can_assign(principal.role, body.role):
        raise Forbidden(f"cannot grant role {body.role.value}")
    email = body.email.lower()
    if session.scalars(sa.select(col(User.id)).where(sa.func.lower(col(User.email)) == email)).first() is not None:
        raise Conflict("a user with that email exists in this organization")
    user = User(
        organization_id=organization_id,
        email=email,
        full_name=body.full_name,
        password_hash=container.passwords.hash(body.password),
        role=body.role,
    )
    session.add(user)
    session.commit()
    return user


def _user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


@router.get("/organizations/{organization_id}/users/{user_id}", response_model=UserOut)
def get_user(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    session: Session = Depends(org_session_for(Permission.USER_READ)),
) -> User:
    return _user(session, user_id)


@router.put("/organizations/{organization_id}/users/{user_id}", response_model=UserOut)
def update_user(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    body: UserUpdate,
    principal: Principal = Depends(require(Permission.USER_UPDATE)),
    session: Session = Depends(org_session_for(Permission.USER_UPDATE)),
    container: Container = Depends(get_container),
) -> User:
    user = _user(session, user_id)
    if not can_assign(principal.role, user.role) or (body.role and not can_assign(principal.role, body.role)):
        raise Forbidden("cannot change a user with a higher role, or grant one")
    changes = body.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    for field, value in changes.items():
        setattr(user, field, value)
    if password is not None:
        user.password_hash = container.passwords.hash(password)
    if password is not None or changes.get("is_active") is False:
        end_sessions(session, user)
    user.updated_at = utcnow()
    session.commit()
    return user


@router.delete("/organizations/{organization_id}/users/{user_id}", status_code=204)
def deactivate_user(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.USER_DELETE)),
    session: Session = Depends(org_session_for(Permission.USER_DELETE)),
) -> Response:
    user = _user(session, user_id)
    if user.id == principal.user_id:
        raise Conflict("you cannot deactivate yourself")
    if not can_assign(principal.role, user.role):
        raise Forbidden("cannot deactivate a user with a higher role")
    user.is_active = False
    end_sessions(session, user)
    user.updated_at = utcnow()
    session.commit()
    return Response(status_code=204)


@router.get("/phone-numbers", response_model=Page[PhoneNumberOut])
def list_phone_numbers(
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.ORGANIZATION_READ)),
    session: Session = Depends(scoped_session),
) -> Page[PhoneNumber]:
    return page_by(session, sa.select(PhoneNumber), text_field("e164", PhoneNumber.e164), PhoneNumber.id, limit, cursor)


@router.post("/phone-numbers", response_model=PhoneNumberOut, status_code=201)
def create_phone_number(
    body: PhoneNumberIn,
    principal: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    session: Session = Depends(scoped_session),
) -> PhoneNumber:
    try:
        record = add_phone_number(
            session,
            organization_id=principal.organization_id,
            number=body.number,
            purpose=body.purpose,
            label=body.label,
        )
    except InvalidPhoneNumber as exc:
        raise ValidationFailed([FieldError("body.number", str(exc))]) from exc
    session.commit()
    return record


@router.delete("/phone-numbers/{phone_number_id}", status_code=204)
def delete_phone_number(
    phone_number_id: uuid.UUID,
    _: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    session: Session = Depends(scoped_session),
) -> Response:
    record = session.get(PhoneNumber, phone_number_id)
    if record is None:
        raise NotFound("phone number not found")
    session.delete(record)
    session.commit()
    return Response(status_code=204)
