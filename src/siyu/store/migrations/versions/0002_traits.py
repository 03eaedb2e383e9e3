"""person traits and compute runs

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import siyu.store.base

revision = "0002"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_traits",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("oneid", sa.String(length=26), nullable=False),
        sa.Column("first_order_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_order_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("first_order_day", sa.Date(), nullable=True),
        sa.Column("last_order_day", sa.Date(), nullable=True),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("net_spend", siyu.store.base.Money(), nullable=False),
        sa.Column("aov", siyu.store.base.Money(), nullable=True),
        sa.Column("avg_interval_days", sa.Integer(), nullable=True),
        sa.Column("favourite_source", sa.String(length=32), nullable=True),
        sa.Column("favourite_category", sa.String(length=64), nullable=True),
        sa.Column("favourite_store", sa.String(length=64), nullable=True),
        sa.Column("is_member", sa.Boolean(), nullable=False),
        sa.Column("rfm_r", sa.SmallInteger(), nullable=True),
        sa.Column("rfm_f", sa.SmallInteger(), nullable=True),
        sa.Column("rfm_m", sa.SmallInteger(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("computed_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "oneid", name=op.f("pk_person_traits")),
    )
    op.create_table(
        "trait_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("watermark", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("recomputed", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trait_runs")),
    )
    with op.batch_alter_table("trait_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trait_runs_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trait_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trait_runs_tenant_id"))
    op.drop_table("trait_runs")
    op.drop_table("person_traits")
