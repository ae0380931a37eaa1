"""``seiketsu org``: the operator's commands for organizations, their admins' passwords and their API keys."""

from __future__ import annotations

import re
import uuid

import click
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.models import ApiKey
from seiketsu.auth.passwords import generate_password
from seiketsu.auth.service import create_api_key, end_sessions
from seiketsu.container import Container, build_container
from seiketsu.db import utcnow
from seiketsu.errors import AppError
from seiketsu.phones import InvalidPhoneNumber
from seiketsu.settings import ConfigError, load_settings
from seiketsu.tenancy.models import Organization, Role, User
from seiketsu.tenancy.schemas import OrganizationIn
from seiketsu.tenancy.scoping import system_session
from seiketsu.tenancy.service import create_organization, set_plan_limits


def _container() -> Container:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return build_container(settings)


@click.group()
def org() -> None:
    """Manage organizations."""


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:63] or "org"


@org.command("create")
@click.argument("name")
@click.option("--admin-email", required=True, help="email of the organization's first admin")
@click.option("--slug", default=None, help="URL-safe identifier used to sign in (default: from NAME)")
@click.option("--timezone", "timezone_", default="America/New_York", show_default=True)
@click.option("--number", "numbers", multiple=True, help="a phone number of the brokerage (repeatable)")
def org_create(name: str, admin_email: str, slug: str | None, timezone_: str, numbers: tuple[str, ...]) -> None:
    """Create an organization, its admin (one-time password printed) and an API key."""

    try:  # the API's own rules for what an organization may be
        OrganizationIn.model_validate({"name": name, "slug": slug or _slugify(name), "timezone": timezone_})
    except ValidationError as exc:
        raise click.ClickException(_validation_message(exc)) from exc
    container = _container()
    try:
        with system_session(container.sessions) as session:
            created = create_organization(
                session,
                container.passwords,
                name=name,
                slug=slug or _slugify(name),
                admin_email=admin_email,
                timezone=timezone_,
                numbers=numbers,
            )
            issued = create_api_key(
                session,
                organization_id=created.organization.id,
                name="default",
                role=Role.ORG_ADMIN,
                created_by=created.admin.id,
            )
            session.commit()
    except (AppError, InvalidPhoneNumber) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        container.close()
    click.echo(f"organization: {created.organization.name} (slug: {created.organization.slug})")
    click.echo(f"organization id: {created.organization.id}")
    click.echo(f"admin: {created.admin.email}")
    click.echo(f"one-time password: {created.admin_password}")
    click.echo(f"API key (shown once): {issued.key}")


@org.command("list")
def org_list() -> None:
    """List the organizations: slug, name, time zone, whether active, and the id."""

    container = _container()
    try:
        with system_session(container.sessions) as session:
            organizations = list(session.scalars(sa.select(Organization).order_by(col(Organization.slug))))
    finally:
        container.close()
    if not organizations:
        click.echo("no organizations yet: create one with `seiketsu org create`")
    for organization in organizations:
        state = "active" if organization.is_active else "inactive"
        click.echo(f"{organization.slug}\t{organization.name}\t{organization.timezone}\t{state}\t{organization.id}")


@org.command("limits")
@click.argument("slug")
@click.option("--max-concurrent-calls", type=click.IntRange(1, 10_000), default=None, help="calls at once")
@click.option("--api-requests-per-minute", type=click.IntRange(1, 1_000_000), default=None, help="API rate limit")
def org_limits(slug: str, max_concurrent_calls: int | None, api_requests_per_minute: int | None) -> None:
    """Show an organization's plan limits, or set them (the API lets no tenant change its own)."""

    container = _container()
    try:
        with system_session(container.sessions) as session:
            org = set_plan_limits(
                session,
                slug=slug,
                max_concurrent_calls=max_concurrent_calls,
                api_requests_per_minute=api_requests_per_minute,
            )
            session.commit()
            click.echo(f"organization: {org.slug}")
            click.echo(f"max concurrent calls: {org.max_concurrent_calls}")
            click.echo(f"API requests per minute: {org.api_requests_per_minute}")
    except AppError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        container.close()


def _validation_message(exc: ValidationError) -> str:
    option = {"name": "NAME", "slug": "--slug", "timezone": "--timezone"}
    return "; ".join(
        f"{option.get(str(error['loc'][0]), error['loc'][0])}: {error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors()
    )


@org.command("password-reset")
@click.argument("slug")
@click.argument("email")
def org_password_reset(slug: str, email: str) -> None:
    """Give a user of organization SLUG a new one-time password (printed once); their sessions end, and they must
    choose their own password when they next sign in."""

    container = _container()
    try:
        with system_session(container.sessions) as session:
            user = _user(session, slug, email)
            password = generate_password()
            user.password_hash = container.passwords.hash(password)
            user.password_change_required = True
            user.updated_at = utcnow()
            end_sessions(session, user)
            session.commit()
    finally:
        container.close()
    click.echo(f"one-time password for {email.lower()}: {password}")


@org.group("api-key")
def api_key() -> None:
    """An organization's API keys."""


@api_key.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="what the key is for (shown in the key list)")
@click.option("--role", type=click.Choice(["org_admin", "manager", "agent"]), default="manager", show_default=True)
def api_key_create(slug: str, name: str, role: str) -> None:
    """Create an API key of organization SLUG; the key is printed once and never again."""

    container = _container()
    try:
        with system_session(container.sessions) as session:
            organization = _organization(session, slug)
            issued = create_api_key(
                session, organization_id=organization.id, name=name, role=Role(role), created_by=None
            )
            session.commit()
            key_id = issued.record.id
    finally:
        container.close()
    click.echo(f"API key id: {key_id}")
    click.echo(f"API key (shown once): {issued.key}")


@api_key.command("revoke")
@click.argument("slug")
@click.argument("key_id", type=click.UUID)
def api_key_revoke(slug: str, key_id: uuid.UUID) -> None:
    """Revoke the API key KEY_ID of organization SLUG: requests with it are refused from now on."""

    container = _container()
    try:
        with system_session(container.sessions) as session:
            organization = _organization(session, slug)
            key = session.get(ApiKey, key_id)
            if key is None or key.organization_id != organization.id:
                raise click.ClickException(f"organization {slug} has no API key {key_id}")
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                session.commit()
    finally:
        container.close()
    click.echo(f"revoked API key {key_id}")


def _organization(session: Session, slug: str) -> Organization:

    found = session.scalars(sa.select(Organization).where(col(Organization.slug) == slug)).one_or_none()
    if found is None:
        raise click.ClickException(f"no organization with slug {slug!r}: `seiketsu org list` shows them")
    return found


def _user(session: Session, slug: str, email: str) -> User:

    organization = _organization(session, slug)
    found = session.scalars(
        sa.select(User).where(
            col(User.organization_id) == organization.id, sa.func.lower(col(User.email)) == email.lower()
        )
    ).one_or_none()
    if found is None:
        raise click.ClickException(f"organization {slug} has no user {email.lower()}")
    return found
