"""crm integrations and deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 17:44:13.640197
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import seiketsu.db
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('crm_integrations',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('crm_type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('credentials', sa.Text(), nullable=False),
    sa.Column('credential_keys', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('field_mapping', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('outcome_mapping', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rate_limit_requests', sa.Integer(), nullable=True),
    sa.Column('rate_limit_window_seconds', sa.Float(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', seiketsu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', seiketsu.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_crm_integrations_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_integrations')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('uq_crm_integrations_organization_id_name'))
    )
    with op.batch_alter_table('crm_integrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_integrations_organization_id'), ['organization_id'], unique=False)

    op.create_table('crm_deliveries',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('integration_id', sa.Uuid(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('event', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.Enum('pending', 'retrying', 'succeeded', 'dead', name='deliverystatus', native_enum=False, length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('vendor_status', sa.Integer(), nullable=True),
    sa.Column('vendor_code', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('contact_remote_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('lease_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('lease_expires_at', seiketsu.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', seiketsu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', seiketsu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', seiketsu.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['integration_id'], ['crm_integrations.id'], name=op.f('fk_crm_deliveries_integration_id_crm_integrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_crm_deliveries_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_deliveries')),
    sa.UniqueConstraint('integration_id', 'call_id', name=op.f('uq_crm_deliveries_integration_id_call_id'))
    )
    with op.batch_alter_table('crm_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_crm_deliveries_integration_created', ['integration_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_crm_deliveries_organization_id'), ['organization_id'], unique=False)

    op.create_table('crm_remote_records',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('integration_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('contact', 'call', 'task', 'appointment', name='remotekind', native_enum=False, length=12), nullable=False),
    sa.Column('local_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('remote_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('created_at', seiketsu.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', seiketsu.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['crm_integrations.id'], name=op.f('fk_crm_remote_records_integration_id_crm_integrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_crm_remote_records_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_remote_records')),
    sa.UniqueConstraint('integration_id', 'kind', 'local_id', name=op.f('uq_crm_remote_records_integration_id_kind_local_id'))
    )
    with op.batch_alter_table('crm_remote_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_remote_records_organization_id'), ['organization_id'], unique=False)

    op.create_table('crm_delivery_attempts',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('delivery_id', sa.Uuid(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('vendor_code', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('remote_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('created_at', seiketsu.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['crm_deliveries.id'], name=op.f('fk_crm_delivery_attempts_delivery_id_crm_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_crm_delivery_attempts_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_delivery_attempts'))
    )
    with op.batch_alter_table('crm_delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_delivery_attempts_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_crm_delivery_attempts_organization_id'), ['organization_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crm_delivery_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_delivery_attempts_organization_id'))
        batch_op.drop_index(batch_op.f('ix_crm_delivery_attempts_delivery_id'))

    op.drop_table('crm_delivery_attempts')
    with op.batch_alter_table('crm_remote_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_remote_records_organization_id'))

    op.drop_table('crm_remote_records')
    with op.batch_alter_table('crm_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_deliveries_organization_id'))
        batch_op.drop_index('ix_crm_deliveries_integration_created')

    op.drop_table('crm_deliveries')
    with op.batch_alter_table('crm_integrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_integrations_organization_id'))

    op.drop_table('crm_integrations')
