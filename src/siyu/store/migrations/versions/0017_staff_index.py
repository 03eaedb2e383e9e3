"""index customer records by their guide (staff_id)

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_customer_records_staff", "customer_records", ["tenant_id", "staff_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_customer_records_staff", table_name="customer_records")
