"""Migrations from empty on both engines, and the models never drifting from them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, column, inspect, select, table, text
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.db import Database, SchemaOutOfDate, head_revision, revisions
from tests.conftest import postgres_database, throwaway_postgres_schema

TABLES = {"department", "department_supplier", "department_head", "person", "identity",
          "admin_event", "account", "account_alias", "account_event",
          "signal", "event", "score", "outbox", "job_claim", "alembic_version"}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """A database with nothing in it at all."""
    if request.param == "sqlite":
        db = Database.connect(f"sqlite:///{tmp_path / 'empty.db'}")
        yield db
        db.dispose()
        return
    with throwaway_postgres_schema("voc_empty") as schema:
        db = postgres_database(schema)
        yield db
        db.dispose()


def test_upgrade_from_empty_creates_every_table(empty_db: Database):
    current, head = empty_db.schema_revisions()
    assert current is None and head is not None
    with pytest.raises(SchemaOutOfDate, match="Run `voc db upgrade`"):
        empty_db.require_current_schema()

    empty_db.upgrade()

    assert empty_db.schema_revisions() == (head, head)
    empty_db.require_current_schema()
    assert set(inspect(empty_db.engine).get_table_names()) >= TABLES


def test_models_and_migrations_agree(empty_db: Database):
    empty_db.upgrade()
    with empty_db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "models changed without a migration: write one with alembic"


def test_downgrade_to_empty_and_back(empty_db: Database):
    empty_db.upgrade()
    empty_db.upgrade("head")  # a second upgrade is a no-op
    from alembic import command

    config = empty_db.alembic_config()
    with empty_db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(empty_db.engine).get_table_names()) <= {"alembic_version"}
    empty_db.upgrade()
    assert set(inspect(empty_db.engine).get_table_names()) >= TABLES


def test_sqlite_connections_are_configured_for_concurrent_writers(tmp_path):
    db = Database.connect(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    db.dispose()


def test_revisions_are_read_as_alembic_reads_them(tmp_path) -> None:
    """The schema check (start, /readyz) reads the revision ids without importing Alembic."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(Database.connect("sqlite://").alembic_config())
    assert revisions() == {script.revision: tuple(script._all_down_revisions)
                           for script in scripts.walk_revisions()}
    assert head_revision() == scripts.get_current_head()

    for name, down in (("a", None), ("b", '"a"'), ("c", '"a"')):  # two heads: refused
        (tmp_path / f"{name}.py").write_text(f'revision: str = "{name}"\ndown_revision = {down}\n')
    assert revisions(tmp_path) == {"a": (), "b": ("a",), "c": ("a",)}
    with pytest.raises(RuntimeError, match=r"several heads \(b, c\)"):
        head_revision(tmp_path)


def test_a_database_at_an_unknown_revision_is_refused(empty_db: Database):
    empty_db.upgrade()
    with empty_db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    with pytest.raises(SchemaOutOfDate, match="0099_future, which this voc-bot does not know"):
        empty_db.require_current_schema()
    with pytest.raises(SchemaOutOfDate, match="does not know"):
        empty_db.upgrade()


def test_department_chats_move_into_one_column_and_back(empty_db: Database):
    """0013: each department's Slack channel, Telegram chat and topic become its addresses by
    platform; a downgrade puts them back in their columns."""
    from alembic import command

    empty_db.upgrade("0012_outbox_bulk")
    with empty_db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO department (slug, name, description, keywords, slack_channel, "
            "telegram_chat, telegram_topic, ack_sla_hours) VALUES "
            "('both', 'Both', '', '[]', 'C0BOTH', -1001234567890, 7, 24), "
            "('slack', 'Slack only', '', '[]', 'C0SLACK', NULL, NULL, 24), "
            "('none', 'Nowhere', '', '[]', NULL, NULL, NULL, 24)"))

    empty_db.upgrade()

    department = table("department", column("slug"), column("addresses", JSON()))
    with empty_db.engine.connect() as connection:
        moved = dict(connection.execute(select(department.c.slug, department.c.addresses)).all())
    assert moved == {
        "both": {"slack": {"slack_channel": "C0BOTH"},
                 "telegram": {"telegram_chat": -1001234567890, "telegram_topic": 7}},
        "slack": {"slack": {"slack_channel": "C0SLACK"}},
        "none": {}}

    config = empty_db.alembic_config()
    with empty_db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012_outbox_bulk")
    with empty_db.engine.connect() as connection:
        back = connection.execute(text(
            "SELECT slug, slack_channel, telegram_chat, telegram_topic FROM department "
            "ORDER BY id")).all()
    assert [tuple(row) for row in back] == [("both", "C0BOTH", -1001234567890, 7),
                                             ("slack", "C0SLACK", None, None),
                                             ("none", None, None, None)]
