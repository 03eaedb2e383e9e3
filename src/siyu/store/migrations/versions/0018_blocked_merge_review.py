"""blocked merge review: who approved or dismissed a blocked merge, when, why

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import siyu.store.base

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blocked_merges") as batch:
        batch.add_column(sa.Column("other_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("decided_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
    op.create_index(
        "ix_blocked_merges_status", "blocked_merges", ["tenant_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_blocked_merges_status", table_name="blocked_merges")
    with op.batch_alter_table("blocked_merges") as batch:
        batch.drop_column("reason")
        batch.drop_column("decided_at")
        batch.drop_column("decided_by")
        batch.drop_column("other_seq")
