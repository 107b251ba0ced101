"""delivery instructions released with each shipment

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 09:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString in generated columns)


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('shipment_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_instructions', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('shipment_record', schema=None) as batch_op:
        batch_op.drop_column('delivery_instructions')
