"""tags (groups, tags, assignment intervals) and audiences (definitions, membership
intervals, refresh runs)

Revision ID: 0010
Revises: 0002 (the head of this branch; the integrator re-chains)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import siyu.store.base

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audience_memberships",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("oneid", sa.String(length=26), nullable=False),
        sa.Column("entered_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=16), nullable=False),
        sa.Column("exited_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("exited_by", sa.String(length=16), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_memberships")),
    )
    with op.batch_alter_table("audience_memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audience_memberships_entered", ["tenant_id", "entered_at"], unique=False
        )
        batch_op.create_index(
            "ix_audience_memberships_exited", ["tenant_id", "exited_at"], unique=False
        )
        batch_op.create_index(
            "ix_audience_memberships_person", ["tenant_id", "oneid"], unique=False
        )
        batch_op.create_index(
            "uq_audience_memberships_open",
            ["tenant_id", "audience_id", "oneid"],
            unique=True,
            sqlite_where=sa.text("exited_at IS NULL"),
            postgresql_where=sa.text("exited_at IS NULL"),
        )

    op.create_table(
        "audience_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("exited", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_runs")),
    )
    with op.batch_alter_table("audience_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audience_runs_audience", ["tenant_id", "audience_id"], unique=False
        )

    op.create_table(
        "audiences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=True),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("refresh_minutes", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audiences")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_audiences_tenant_id_name")),
    )
    op.create_table(
        "tag_assignments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("oneid", sa.String(length=26), nullable=False),
        sa.Column("given_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("given_by_kind", sa.String(length=8), nullable=False),
        sa.Column("given_by", sa.String(length=256), nullable=False),
        sa.Column("removed_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("removed_by_kind", sa.String(length=8), nullable=True),
        sa.Column("removed_by", sa.String(length=256), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_assignments")),
    )
    with op.batch_alter_table("tag_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_tag_assignments_person", ["tenant_id", "oneid"], unique=False)
        batch_op.create_index(
            "uq_tag_assignments_open",
            ["tenant_id", "tag_id", "oneid"],
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )

    op.create_table(
        "tag_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=True),
        sa.Column("created_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_groups")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_tag_groups_tenant_id_name")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=130), nullable=False),
        sa.Column("tag_group", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("refresh_minutes", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=512), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", siyu.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("computed_at", siyu.store.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_tags_tenant_id_key")),
    )


def downgrade() -> None:
    op.drop_table("tags")
    op.drop_table("tag_groups")
    with op.batch_alter_table("tag_assignments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_tag_assignments_open",
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )
        batch_op.drop_index("ix_tag_assignments_person")

    op.drop_table("tag_assignments")
    op.drop_table("audiences")
    with op.batch_alter_table("audience_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_audience_runs_audience")

    op.drop_table("audience_runs")
    with op.batch_alter_table("audience_memberships", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_audience_memberships_open",
            sqlite_where=sa.text("exited_at IS NULL"),
            postgresql_where=sa.text("exited_at IS NULL"),
        )
        batch_op.drop_index("ix_audience_memberships_person")
        batch_op.drop_index("ix_audience_memberships_exited")
        batch_op.drop_index("ix_audience_memberships_entered")

    op.drop_table("audience_memberships")
