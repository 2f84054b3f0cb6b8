"""signal vectors of the language layer

Revision ID: 0010_signal_vector
Revises: 0008_case_conversation
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0010_signal_vector"
down_revision: str | None = "0008_case_conversation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signal_vector",
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["signal_id"], ["signal.id"]),
        sa.PrimaryKeyConstraint("signal_id"),
    )
    with op.batch_alter_table("signal_vector", schema=None) as batch_op:
        batch_op.create_index("ix_signal_vector_model", ["model"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signal_vector", schema=None) as batch_op:
        batch_op.drop_index("ix_signal_vector_model")
    op.drop_table("signal_vector")
