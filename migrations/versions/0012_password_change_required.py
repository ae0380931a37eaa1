"""password change required

``users.password_change_required`` is set on a password someone else chose (the generated one-time password of an
organization's first admin, a password an admin gives or resets) and cleared when the user sets their own: until
then the user's tokens reach only their own profile.

Revision ID: 0012_password_change_required
Revises: 0011_session_generations
Create Date: 2026-12-08 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_password_change_required"
down_revision: str | None = "0011_session_generations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_change_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_change_required")
