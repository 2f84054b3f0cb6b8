"""digest indexes, SLA sweep marks on signals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.create_index("ix_score_kind_at_value", ["kind", "at", "value"], unique=False)

    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_at", storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("escalated_at", storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
        # Covering index for the weekly and 12-week digest aggregates.
        batch_op.create_index("ix_signal_digest", ["created_at", "kind", "department_id",
                                                   "status", "routed_at", "acknowledged_at",
                                                   "ack_due_at"], unique=False)
        batch_op.create_index("ix_signal_resolved_department", ["resolved_at", "department_id"],
                              unique=False)
        batch_op.create_index("ix_signal_status_due", ["status", "ack_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_index("ix_signal_status_due")
        batch_op.drop_index("ix_signal_resolved_department")
        batch_op.drop_index("ix_signal_digest")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("reminded_at")

    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.drop_index("ix_score_kind_at_value")
