"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-12-04 15:46:50.633207
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import relay_core.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('target_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('actor_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_target_type'), ['target_type'], unique=False)

    op.create_table('relay_nodes',
    sa.Column('node_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('started_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('node_id')
    )
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('banned_at', relay_core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('banned_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('created_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_email'), ['email'], unique=True)
        batch_op.create_index(batch_op.f('ix_users_username'), ['username'], unique=True)

    op.create_table('endpoints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('forwarding_mode', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('custom_header', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('access_mode', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('created_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_active_at', relay_core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('is_disabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_at', relay_core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endpoints_endpoint_id'), ['endpoint_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_endpoints_user_id'), ['user_id'], unique=False)

    op.create_table('invite_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('grants_admin', sa.Boolean(), nullable=False),
    sa.Column('expires_at', relay_core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by', sa.Uuid(), nullable=True),
    sa.Column('used_at', relay_core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', relay_core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['used_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('invite_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invite_codes_code'), ['code'], unique=True)
        batch_op.create_index(batch_op.f('ix_invite_codes_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_invite_codes_used_by'), ['used_by'], unique=False)

    op.create_table('access_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_pk', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', relay_core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', relay_core.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_pk'], ['endpoints.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_tokens_endpoint_pk'), ['endpoint_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_tokens_token_hash'), ['token_hash'], unique=True)

    op.create_table('device_presence',
    sa.Column('endpoint_pk', sa.Uuid(), nullable=False),
    sa.Column('device_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('node_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('connections', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_pk'], ['endpoints.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('endpoint_pk', 'device_id', 'node_id')
    )
    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_pk', sa.Uuid(), nullable=False),
    sa.Column('device_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('first_seen_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_pk'], ['endpoints.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('endpoint_pk', 'device_id', name='uq_devices_endpoint_device')
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_endpoint_pk'), ['endpoint_pk'], unique=False)

    op.create_table('endpoint_stats',
    sa.Column('endpoint_pk', sa.Uuid(), nullable=False),
    sa.Column('node_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('current_connections', sa.Integer(), nullable=False),
    sa.Column('total_connections', sa.Integer(), nullable=False),
    sa.Column('total_messages', sa.Integer(), nullable=False),
    sa.Column('total_bytes', sa.Integer(), nullable=False),
    sa.Column('dropped_messages', sa.Integer(), nullable=False),
    sa.Column('updated_at', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_pk'], ['endpoints.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('endpoint_pk', 'node_id')
    )
    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_pk', sa.Uuid(), nullable=False),
    sa.Column('timestamp', relay_core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('connection_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('device_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('binary', sa.Boolean(), nullable=False),
    sa.Column('preview', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_pk'], ['endpoints.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_endpoint_timestamp', ['endpoint_pk', 'timestamp'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_endpoint_timestamp')

    op.drop_table('messages')
    op.drop_table('endpoint_stats')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_endpoint_pk'))

    op.drop_table('devices')
    op.drop_table('device_presence')
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_tokens_token_hash'))
        batch_op.drop_index(batch_op.f('ix_access_tokens_endpoint_pk'))

    op.drop_table('access_tokens')
    with op.batch_alter_table('invite_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invite_codes_used_by'))
        batch_op.drop_index(batch_op.f('ix_invite_codes_created_by'))
        batch_op.drop_index(batch_op.f('ix_invite_codes_code'))

    op.drop_table('invite_codes')
    with op.batch_alter_table('endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endpoints_user_id'))
        batch_op.drop_index(batch_op.f('ix_endpoints_endpoint_id'))

    op.drop_table('endpoints')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_username'))
        batch_op.drop_index(batch_op.f('ix_users_email'))

    op.drop_table('users')
    op.drop_table('relay_nodes')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_target_type'))
        batch_op.drop_index(batch_op.f('ix_audit_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
