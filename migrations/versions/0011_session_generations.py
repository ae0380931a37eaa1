"""session generations

``users.session_generation`` is raised when a user's password changes (by the user or an admin) or the user is
deactivated; access tokens carry it and refresh tokens store it (``refresh_tokens.generation``), so every session
issued before the change stops working. Existing rows start at generation 0.

Revision ID: 0011_session_generations
Revises: 0010
Create Date: 2026-12-08 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_session_generations"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("generation")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
