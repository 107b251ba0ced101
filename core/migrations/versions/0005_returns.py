"""returns: one row per return (read model, returned quantities, the label PDF)

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString in generated columns)
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "return_record",
        sa.Column("return_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("store_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("destination_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("arrived_at_location", sqlmodel.sql.sqltypes.AutoString(length=64),
                  nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("goods_cents", sa.Integer(), nullable=False),
        sa.Column("shipping_refund_cents", sa.Integer(), nullable=False),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
        sa.Column("label_pdf", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("label_issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("refunded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("return_id"),
    )
    with op.batch_alter_table("return_record") as batch:
        batch.create_index(batch.f("ix_return_record_order_id"), ["order_id"], unique=False)
        batch.create_index(batch.f("ix_return_record_status"), ["status"], unique=False)
        batch.create_index(batch.f("ix_return_record_destination_id"), ["destination_id"],
                           unique=False)
        batch.create_index(batch.f("ix_return_record_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("return_record") as batch:
        batch.drop_index(batch.f("ix_return_record_created_at"))
        batch.drop_index(batch.f("ix_return_record_destination_id"))
        batch.drop_index(batch.f("ix_return_record_status"))
        batch.drop_index(batch.f("ix_return_record_order_id"))
    op.drop_table("return_record")
