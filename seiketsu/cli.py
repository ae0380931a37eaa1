"""The ``seiketsu`` command line."""

from __future__ import annotations

import re
import sys

import click

from seiketsu.settings import ConfigError, Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def main() -> None:
    """Seiketsu: the voice agent for real-estate brokerages."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option("--workers", default=1, type=int, show_default=True, help="uvicorn worker processes")
def serve(host: str, port: int, workers: int) -> None:
    """Run the web service (HTTP API, Twilio webhooks and media streams)."""
    import uvicorn

    _settings()  # fail before uvicorn starts when the configuration is bad
    uvicorn.run(
        "seiketsu.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_config=None,
        ws_max_size=1 << 20,
    )


@main.command()
@click.option("--burst", is_flag=True, help="run the jobs that are due, then exit")
def worker(burst: bool) -> None:
    """Run background jobs (RQ worker with REDIS_URL; otherwise the in-process runner)."""
    from seiketsu.worker import run_worker

    run_worker(_settings(), burst=burst)


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the latest migration."""
    from seiketsu.migrate import upgrade

    upgrade(_settings())
    click.echo("database is at the latest migration")


@main.group()
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
    from seiketsu.auth.service import create_api_key
    from seiketsu.container import build_container
    from seiketsu.errors import AppError
    from seiketsu.phones import InvalidPhoneNumber
    from seiketsu.tenancy.models import Role
    from seiketsu.tenancy.scoping import system_session
    from seiketsu.tenancy.service import create_organization

    container = build_container(_settings())
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
