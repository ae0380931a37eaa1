"""compliance permit index

The gate counts earlier permits (decisions with ``permit_expires_at``) per number; a partial index over those rows
alone keeps that lookup small however large the audit log of plain answers grows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 21:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERMITS = sa.text("permit_expires_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_compliance_decisions_permits",
        "compliance_decisions",
        ["organization_id", "phone", "at"],
        unique=False,
        postgresql_where=_PERMITS,
        sqlite_where=_PERMITS,
    )


def downgrade() -> None:
    op.drop_index("ix_compliance_decisions_permits", table_name="compliance_decisions")
