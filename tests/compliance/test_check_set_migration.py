"""Migration 0010 moves each decision's checks into content-addressed check sets, and back on downgrade."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from compliance.audit import check_set_digest
from seiketsu.db import JSONType, UTCDateTime
from seiketsu.migrate import alembic_config
from tests.conftest import ADMIN_URL

CHECKS_A = [{"rule": "US.input", "result": "pass", "detail": "facts complete", "version": "1"}]
CHECKS_B = [{"rule": "US.input", "result": "block", "detail": "phone is missing", "version": "1"}]
_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "id": sa.Uuid(), "organization_id": sa.Uuid(), "decided_at": UTCDateTime(), "at": UTCDateTime(),
    "opt_out_confirmation": sa.Boolean(), "allowed": sa.Boolean(), "checks": JSONType,
}  # fmt: skip


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migration.db'}"
        return
    name = f"seiketsu_migration_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _decision(organization_id: uuid.UUID, checks: list[dict[str, str]]) -> dict[str, Any]:
    moment = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    return {
        "id": uuid.uuid4(), "organization_id": organization_id, "decided_at": moment, "phone": "+12125550123",
        "channel": "voice", "voice": "live", "purpose": "informational", "at": moment, "opt_out_confirmation": False,
        "allowed": checks is CHECKS_A, "checks": checks, "rulebook_version": "v1", "requested_by_kind": "system",
        "requested_by": "test",
    }  # fmt: skip


def test_existing_decisions_keep_their_checks_through_upgrade_and_downgrade(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0009")
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    rows = [_decision(org_a, CHECKS_A), _decision(org_a, CHECKS_A), _decision(org_a, CHECKS_B),
            _decision(org_b, CHECKS_A)]  # fmt: skip
    engine = sa.create_engine(database_url)
    try:
        table = sa.table(
            "compliance_decisions",
            *(sa.column(name, _TYPES.get(name, sa.String())) for name in rows[0]),
        )
        with engine.begin() as connection:
            connection.execute(table.insert(), rows)
        command.upgrade(config, "0010")
        with engine.connect() as connection:
            digests: dict[Any, str] = dict(
                connection.execute(sa.text("SELECT id, checks_digest FROM compliance_decisions")).all()
            )
            sets = {
                (str(org), digest): json.loads(checks) if isinstance(checks, str) else checks
                for org, digest, checks in connection.execute(
                    sa.text("SELECT organization_id, digest, checks FROM compliance_check_sets")
                )
            }
        assert len(sets) == 3  # A and B for the first organization, A for the second
        for row in rows:
            digest = digests[row["id"] if engine.dialect.name == "postgresql" else row["id"].hex]
            assert digest == check_set_digest(row["checks"])
            assert sets[(_stored(row["organization_id"], engine), digest)] == row["checks"]
        command.downgrade(config, "0009")
        with engine.connect() as connection:
            restored = {
                str(key): json.loads(value) if isinstance(value, str) else value
                for key, value in connection.execute(sa.text("SELECT id, checks FROM compliance_decisions"))
            }
        assert restored == {_stored(row["id"], engine): row["checks"] for row in rows}
    finally:
        engine.dispose()


def _stored(value: uuid.UUID, engine: sa.Engine) -> str:
    """How a UUID column reads back through a plain text query: uuid on PostgreSQL, 32 hex digits on SQLite."""
    return str(value) if engine.dialect.name == "postgresql" else value.hex
