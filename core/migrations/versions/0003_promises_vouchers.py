"""shipment promises (ship by, deliver by), pickup transfers, vouchers

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString in generated columns)
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shipment_record") as batch:
        batch.add_column(sa.Column("ship_by", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("deliver_by", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("transfer_to", sqlmodel.sql.sqltypes.AutoString(length=64),
                                   nullable=True))
    op.create_table(
        "voucher",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value_cents", sa.Integer(), nullable=False),
        sa.Column("valid_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("redeemed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(op.f("ix_voucher_order_id"), "voucher", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_voucher_order_id"), table_name="voucher")
    op.drop_table("voucher")
    with op.batch_alter_table("shipment_record") as batch:
        batch.drop_column("transfer_to")
        batch.drop_column("deliver_by")
        batch.drop_column("ship_by")
