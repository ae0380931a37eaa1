"""live calls index

An organization's concurrent-call limit counts its calls that have not ended, under the organization's admission
lock. Counted through the index of all its calls since the staleness cutoff, the count read every call of the
last hours (3,900 rows and 4 ms after a 10-minute soak), and a wave of admissions queued behind it. A partial
index over the calls that have not ended keeps the count to the live ones.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_calls_live",
        "calls",
        ["organization_id", "created_at"],
        unique=False,
        postgresql_where=_LIVE,
        sqlite_where=_LIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_calls_live", table_name="calls")
