"""audit log outlives organizations

The gate's audit log named its organization by a foreign key with ON DELETE CASCADE. The log must be kept five
years (47 CFR 64.1200(d)(6)) whatever becomes of the organization's row, and the append-only trigger refused the
cascade anyway, so an organization with decisions could not be deleted at all. Without the key, the rows stay.
The key also cost a referential check per row: about a third of the server's work in a batch's COPY. The index
on the organization alone goes too: ix_compliance_decisions_org_phone_at leads with the organization.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = "fk_compliance_decisions_organization_id_organizations"
_INDEX = "ix_compliance_decisions_organization_id"


def upgrade() -> None:
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.drop_constraint(_KEY, type_="foreignkey")
        batch_op.drop_index(_INDEX)


def downgrade() -> None:
    with op.batch_alter_table("compliance_decisions", schema=None) as batch_op:
        batch_op.create_index(_INDEX, ["organization_id"], unique=False)
        batch_op.create_foreign_key(_KEY, "organizations", ["organization_id"], ["id"], ondelete="CASCADE")
