"""identity rebuild runs

Revision ID: 0009
Revises: 0002 (the head on this branch; the integrator re-chains)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import siyu.store.base

revision = "0009"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_rebuilds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("started_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("persons", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("split", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.BigInteger(), nullable=False),
        sa.Column("moved_records", sa.BigInteger(), nullable=False),
        sa.Column("blocked", sa.Integer(), nullable=False),
        sa.Column("replayed_records", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_rebuilds")),
    )
    with op.batch_alter_table("identity_rebuilds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_rebuilds_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_rebuilds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_rebuilds_tenant_id"))
    op.drop_table("identity_rebuilds")
