"""department: its chat on each platform in one JSON column, `addresses`

A platform registers the departments file's fields that address a department on it; the
database keeps them as written, by platform, so a new platform needs no column of its own.

Revision ID: 0013_department_addresses
Revises: 0012_outbox_bulk
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013_department_addresses"
down_revision: str | None = "0012_outbox_bulk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns this revision folds into `addresses`, by platform, as they were written.
COLUMNS = {"slack": ("slack_channel",), "telegram": ("telegram_chat", "telegram_topic")}

department = sa.table(
    "department", sa.column("id", sa.Integer()), sa.column("addresses", sa.JSON()),
    sa.column("slack_channel", sa.String()), sa.column("telegram_chat", sa.BigInteger()),
    sa.column("telegram_topic", sa.Integer()))


def upgrade() -> None:
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(sa.Column("addresses", sa.JSON(), nullable=True))
    connection = op.get_bind()
    columns = [department.c[name] for names in COLUMNS.values() for name in names]
    for row in connection.execute(sa.select(department.c.id, *columns)).mappings():
        addresses: dict[str, dict[str, Any]] = {}
        for platform, names in COLUMNS.items():
            address = {name: row[name] for name in names if row[name] is not None}
            if address:
                addresses[platform] = address
        connection.execute(department.update().where(department.c.id == row["id"])
                           .values(addresses=addresses))
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.alter_column("addresses", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("telegram_topic")
        batch_op.drop_column("telegram_chat")
        batch_op.drop_column("slack_channel")


def downgrade() -> None:
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_channel",
                                      sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column("telegram_chat", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("telegram_topic", sa.Integer(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(department.c.id, department.c.addresses)).all()
    for department_id, addresses in rows:
        # Only the platforms these columns know: an address of a newer platform is dropped.
        values = {name: (addresses or {}).get(platform, {}).get(name)
                  for platform, names in COLUMNS.items() for name in names}
        connection.execute(department.update().where(department.c.id == department_id)
                           .values(**values))
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_column("addresses")
