"""audit check sets

A decision's checks (every rule's verdict, detail and version) move from a JSON column of each audit row to
``compliance_check_sets``, stored once per organization and distinct list and named by the SHA-256 digest of their
canonical JSON (sorted keys, no spaces). Decisions about equal facts share a set, so a batch's audit rows shrink
from about 1.6 KB to about 300 bytes and the server parses each distinct list once. Existing rows are moved over
(on PostgreSQL with the append-only trigger held off for the move, inside this migration's transaction). The new
table is append-only like the decisions.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import seiketsu.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_PAGE = 5000
_DECISIONS_TRIGGER = "compliance_decisions_append_only"


def _canonical(value: Any) -> str:
    # compliance.audit.canonical_json, as of this revision (a migration must not change with the application).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "compliance_check_sets",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("checks", _JSON, nullable=False),
        sa.Column("recorded_at", seiketsu.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "digest", name=op.f("pk_compliance_check_sets")),
    )
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checks_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    if postgres:
        op.execute(f"ALTER TABLE compliance_decisions DISABLE TRIGGER {_DECISIONS_TRIGGER}")
    _move_checks_to_sets()
    if postgres:
        op.execute(f"ALTER TABLE compliance_decisions ENABLE TRIGGER {_DECISIONS_TRIGGER}")
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.alter_column("checks_digest", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("checks")
    if postgres:
        op.execute(
            "CREATE TRIGGER compliance_check_sets_append_only BEFORE UPDATE OR DELETE ON compliance_check_sets "
            "FOR EACH ROW EXECUTE FUNCTION compliance_refuse_change()"
        )


def _move_checks_to_sets() -> None:
    connection = op.get_bind()
    decisions = sa.table(
        "compliance_decisions",
        sa.column("id", sa.Uuid()),
        sa.column("organization_id", sa.Uuid()),
        sa.column("checks", _JSON),
        sa.column("checks_digest", sa.String()),
    )
    sets = sa.table(
        "compliance_check_sets",
        sa.column("organization_id", sa.Uuid()),
        sa.column("digest", sa.String()),
        sa.column("checks", _JSON),
        sa.column("recorded_at", seiketsu.db.UTCDateTime()),
    )
    recorded: set[tuple[Any, str]] = set()
    now = seiketsu.db.utcnow()
    last = None
    while True:
        query = sa.select(decisions.c.id, decisions.c.organization_id, decisions.c.checks).order_by(decisions.c.id)
        if last is not None:
            query = query.where(decisions.c.id > last)
        page = connection.execute(query.limit(_PAGE)).all()
        if not page:
            return
        new_sets = []
        digests = []
        for decision_id, organization_id, checks in page:
            value = _loaded(checks)
            digest = hashlib.sha256(_canonical(value).encode()).hexdigest()
            digests.append({"decision_id": decision_id, "digest": digest})
            if (organization_id, digest) not in recorded:
                recorded.add((organization_id, digest))
                new_sets.append(
                    {"organization_id": organization_id, "digest": digest, "checks": value, "recorded_at": now}
                )
        if new_sets:
            connection.execute(sets.insert(), new_sets)
        connection.execute(
            decisions.update()
            .where(decisions.c.id == sa.bindparam("decision_id"))
            .values(checks_digest=sa.bindparam("digest")),
            digests,
        )
        last = page[-1][0]


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS compliance_check_sets_append_only ON compliance_check_sets")
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checks", _JSON, nullable=True))
    if postgres:
        op.execute(f"ALTER TABLE compliance_decisions DISABLE TRIGGER {_DECISIONS_TRIGGER}")
    op.execute(
        "UPDATE compliance_decisions SET checks = (SELECT s.checks FROM compliance_check_sets AS s"
        " WHERE s.organization_id = compliance_decisions.organization_id"
        " AND s.digest = compliance_decisions.checks_digest)"
    )
    if postgres:
        op.execute(f"ALTER TABLE compliance_decisions ENABLE TRIGGER {_DECISIONS_TRIGGER}")
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.alter_column("checks", existing_type=_JSON, nullable=False)
        batch_op.drop_column("checks_digest")
    op.drop_table("compliance_check_sets")
