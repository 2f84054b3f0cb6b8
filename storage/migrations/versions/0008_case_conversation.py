"""the case as a conversation: resolution codes, merged reports

Revision ID: 0008_case_conversation
Revises: 0007_routing_model
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_case_conversation"
down_revision: str | None = "0007_routing_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signal", schema=None) as batch_op:
        # Why it happened, one of [company] resolution_codes (when the company keeps them).
        batch_op.add_column(sa.Column("resolution_code",
                                      sqlmodel.sql.sqltypes.AutoString(length=40),
                                      nullable=True))
        # "Me too": the case this report was merged into (its reporters count there).
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_signal_merged_into_id_signal", "signal",
                                    ["merged_into_id"], ["id"])
        batch_op.create_index("ix_signal_merged_into_id", ["merged_into_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_index("ix_signal_merged_into_id")
        batch_op.drop_constraint("fk_signal_merged_into_id_signal", type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("resolution_code")
