"""operations: the admin audit trail, retention marks

Revision ID: 0006_operations
Revises: 0005_attachments
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0006_operations"
down_revision: str | None = "0005_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_event_at"), ["at"], unique=False)
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", storage.types.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("admin_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_event_at"))
    op.drop_table("admin_event")
