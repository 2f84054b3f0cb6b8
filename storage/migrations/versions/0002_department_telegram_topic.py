"""department telegram topic, person chosen department

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_topic", sa.Integer(), nullable=True))
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen_department_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_person_chosen_department", "department", ["chosen_department_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_constraint("fk_person_chosen_department", type_="foreignkey")
        batch_op.drop_column("chosen_department_id")

    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_column("telegram_topic")
