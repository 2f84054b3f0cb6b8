"""customers as accounts: accounts, their names, their audit trail, a signal's account

Revision ID: 0011_customer_accounts
Revises: 0010_signal_vector
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0011_customer_accounts"
down_revision: str | None = "0010_signal_vector"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("owner_identity", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["merged_into_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_merged_into_id", "account", ["merged_into_id"], unique=False)
    op.create_table(
        "account_alias",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("head", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("tail", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_account_alias_account_id", "account_alias", ["account_id"], unique=False)
    op.create_index("ix_account_alias_head", "account_alias", ["head"], unique=False)
    op.create_index("ix_account_alias_tail", "account_alias", ["tail"], unique=False)
    op.create_table(
        "account_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_event_account_at", "account_event", ["account_id", "at"],
                    unique=False)
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_signal_account_id_account", "account",
                                    ["account_id"], ["id"])
        batch_op.create_index("ix_signal_account_created", ["account_id", "created_at"],
                              unique=False)
        batch_op.create_index("ix_signal_account_department",
                              ["account_id", "department_id", "status", "score"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_index("ix_signal_account_department")
        batch_op.drop_index("ix_signal_account_created")
        batch_op.drop_constraint("fk_signal_account_id_account", type_="foreignkey")
        batch_op.drop_column("account_id")
    op.drop_index("ix_account_event_account_at", table_name="account_event")
    op.drop_table("account_event")
    op.drop_index("ix_account_alias_tail", table_name="account_alias")
    op.drop_index("ix_account_alias_head", table_name="account_alias")
    op.drop_index("ix_account_alias_account_id", table_name="account_alias")
    op.drop_table("account_alias")
    op.drop_index("ix_account_merged_into_id", table_name="account")
    op.drop_table("account")
