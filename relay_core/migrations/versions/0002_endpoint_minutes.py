"""per-minute message counts for the dashboard chart

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import relay_core.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoint_minutes",
        sa.Column("endpoint_pk", sa.Uuid(), nullable=False),
        sa.Column("node_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("minute", relay_core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_pk"], ["endpoints.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("endpoint_pk", "node_id", "minute"),
    )


def downgrade() -> None:
    op.drop_table("endpoint_minutes")
