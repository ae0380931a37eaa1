"""Creating organizations with their first admin (shared by the API and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.passwords import Passwords, generate_password
from seiketsu.errors import Conflict, NotFound
from seiketsu.phones import normalize_phone
from seiketsu.tenancy.models import NumberPurpose, Organization, PhoneNumber, Role, User


@dataclass(frozen=True, slots=True)
class NewOrganization:
    organization: Organization
    admin: User
    admin_password: str


def create_organization(
    session: Session,
    passwords: Passwords,
    *,
    name: str,
    slug: str,
    admin_email: str,
    timezone: str = "America/New_York",
    numbers: tuple[str, ...] = (),
    settings: dict[str, Any] | None = None,
) -> NewOrganization:
    """Add an organization, its org_admin (with a generated one-time password) and its numbers."""
    if session.scalars(sa.select(col(Organization.id)).where(col(Organization.slug) == slug)).first() is not None:
        raise Conflict(f"an organization with slug {slug!r} exists")
    org = Organization(name=name, slug=slug, timezone=timezone, settings=settings or {})
    session.add(org)
    session.flush()  # the rows below reference it; without relationships the flush order is not guaranteed
    password = generate_password()
    admin = User(
        organization_id=org.id,
        email=admin_email.lower(),
        password_hash=passwords.hash(password),
        role=Role.ORG_ADMIN,
        full_name="",
    )
    session.add(admin)
    session.flush()
    for raw in numbers:
        add_phone_number(session, organization_id=org.id, number=raw, purpose=NumberPurpose.BOTH)
    return NewOrganization(organization=org, admin=admin, admin_password=password)


def set_plan_limits(
    session: Session, *, slug: str, max_concurrent_calls: int | None, api_requests_per_minute: int | None
) -> Organization:
    """Change the limits given (None keeps one) of the organization ``slug``: the operator's CLI, never the API."""
    org = session.scalars(sa.select(Organization).where(col(Organization.slug) == slug)).one_or_none()
    if org is None:
        raise NotFound(f"no organization with slug {slug!r}")
    if max_concurrent_calls is not None:
        org.max_concurrent_calls = max_concurrent_calls
    if api_requests_per_minute is not None:
        org.api_requests_per_minute = api_requests_per_minute
    return org


def add_phone_number(
    session: Session, *, organization_id: Any, number: str, purpose: NumberPurpose, label: str = ""
) -> PhoneNumber:
    e164 = normalize_phone(number)
    # A number belongs to one organization at most, so this check deliberately looks past the tenant scope.
    taken = session.connection().execute(sa.select(col(PhoneNumber.id)).where(col(PhoneNumber.e164) == e164)).first()
    if taken is not None:
        raise Conflict("that number is already registered")
    record = PhoneNumber(organization_id=organization_id, e164=e164, purpose=purpose, label=label)
    session.add(record)
    return record
