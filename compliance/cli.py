"""``seiketsu dnc import``: load registry files into an organization's copy, one atomic import per file."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click
import sqlalchemy as sa
from sqlmodel import col
from tqdm import tqdm

from compliance.imports import parse_area_codes, parse_list_name
from compliance.models import ImportStatus, RegistryImport
from compliance.registry_files import ListKind
from compliance.registry_imports import import_file, new_import
from seiketsu.container import Container, build_container
from seiketsu.settings import Settings
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import system_session, tenant_session

SHOWN_REJECTIONS = 10


def run_dnc_import(
    settings: Settings,
    *,
    org_slug: str,
    list_name: str,
    as_of: date,
    kind: str,
    area_codes: str | None,
    files: Sequence[Path],
    progress: bool = True,
) -> None:
    """Import each file in turn and print its outcome; raises click.ClickException if any file failed."""
    try:
        name = parse_list_name(list_name)
        declared = parse_area_codes(area_codes)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    container = build_container(settings)
    try:
        organization_id = _organization(container, org_slug)
        failed = 0
        for path in files:
            record = _import_one(
                container,
                organization_id=organization_id,
                path=path,
                list_name=name,
                as_of=as_of,
                kind=ListKind(kind),
                declared=declared,
                progress=progress,
            )
            _report(record)
            failed += record.status is not ImportStatus.SUCCEEDED
    finally:
        container.close()
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} file(s) failed; those files changed nothing")


def _organization(container: Container, slug: str) -> uuid.UUID:
    with system_session(container.sessions) as session:
        organization_id = session.scalar(sa.select(col(Organization.id)).where(col(Organization.slug) == slug))
    if organization_id is None:
        raise click.ClickException(f"no organization with slug {slug!r}")
    return organization_id


def _import_one(
    container: Container,
    *,
    organization_id: uuid.UUID,
    path: Path,
    list_name: str,
    as_of: date,
    kind: ListKind,
    declared: frozenset[str],
    progress: bool,
) -> RegistryImport:
    with tenant_session(container.sessions, organization_id) as session:
        record = new_import(
            session,
            list_name=list_name,
            kind=kind,
            as_of=as_of,
            file_name=path.name,
            declared_area_codes=declared,
            requested_by="system:cli",
        )
        session.commit()
        import_id = record.id
    with tqdm(desc=path.name, unit=" numbers", unit_scale=True, disable=not progress, leave=False) as bar:

        def advance(count: int) -> None:
            bar.update(count)

        return import_file(
            engine=container.engine,
            sessions=container.sessions,
            organization_id=organization_id,
            import_id=import_id,
            source=path,
            progress=advance,
        )


def _report(record: RegistryImport) -> None:
    if record.status is not ImportStatus.SUCCEEDED:
        click.echo(f"{record.file_name}: FAILED, nothing changed: {record.error}", err=True)
        return
    click.echo(
        f"{record.file_name}: {record.accepted} accepted ({record.additions} additions, {record.deletions} deletions),"
        f" {record.rejected} rejected; copy of {record.list_name} as of {record.as_of} for"
        f" {len(record.area_codes)} area code(s); {record.numbers_added} numbers added,"
        f" {record.numbers_removed} removed"
    )
    for line in record.rejected_lines[:SHOWN_REJECTIONS]:
        click.echo(f"  rejected {line['source']}:{line['line']}: {line['reason']}: {line['text']!r}")
    if record.rejected > SHOWN_REJECTIONS:
        click.echo(f"  ... and {record.rejected - SHOWN_REJECTIONS} more rejected line(s)")
