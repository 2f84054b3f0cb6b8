"""outbox: bulk rows (surveys, digests, reminders) go after what people are waiting for

Revision ID: 0012_outbox_bulk
Revises: 0011_customer_accounts
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_outbox_bulk"
down_revision: str | None = "0011_customer_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The dedupe keys of bulk rows when this revision was written (storage/outbox.py: BULK_KEYS).
BULK_KEYS = ("pulse:", "pulse-reminder:", "remind:", "escalate:", "digest:", "at_risk:")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bulk", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    outbox = sa.table("outbox", sa.column("bulk", sa.Boolean()),
                      sa.column("dedupe_key", sa.String()), sa.column("status", sa.String()))
    op.execute(outbox.update().where(
        outbox.c.status.in_(("pending", "sending")),
        sa.or_(*(outbox.c.dedupe_key.startswith(key) for key in BULK_KEYS))).values(bulk=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("bulk")
