"""The `voc` admin commands: departments, database, outbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage.db import Database
from storage.outbox import NewMessage, enqueue, finish
from tests.conftest import EXAMPLE_COMPANY

runner = CliRunner()


def invoke(*args: str, db_url: str, departments: Path = EXAMPLE_COMPANY, **settings: str):
    env = {"DATABASE_URL": db_url, "VOC_DEPARTMENTS": str(departments), "SLACK_BOT_TOKEN": "",
           "TELEGRAM_BOT_TOKEN": "", **settings}
    return runner.invoke(app, list(args), env=env)


def test_departments_check_accepts_the_example(db_url):
    result = invoke("departments", "check", db_url=db_url)
    assert result.exit_code == 0, result.output
    assert "OK, 8 departments, triage 'cco', timezone Europe/Moscow" in result.output


def test_departments_check_names_file_line_department_and_field(db_url, tmp_path):
    broken = tmp_path / "departments.toml"
    text = EXAMPLE_COMPANY.read_text().replace('suppliers = ["it", "finance"]',
                                               'suppliers = ["it", "finanse"]')
    broken.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if '"finanse"' in row)
    result = invoke("departments", "check", db_url=db_url, departments=broken)
    assert result.exit_code == 2
    assert (f"{broken}:{line}: department 'logistics': field 'suppliers': unknown supplier "
            "'finanse'") in result.output


def test_departments_sync_is_idempotent(db_url):
    first = invoke("departments", "sync", db_url=db_url)
    assert first.exit_code == 0 and "added: cco, sales" in first.output
    second = invoke("departments", "sync", db_url=db_url)
    assert second.exit_code == 0
    assert "up to date, nothing changed" in second.output


def test_db_status_and_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert invoke("db", "status", db_url=url).exit_code == 1
    upgraded = invoke("db", "upgrade", db_url=url)
    assert upgraded.exit_code == 0 and "(was None)" in upgraded.output
    assert invoke("db", "status", db_url=url).exit_code == 0


def test_db_messages_never_show_the_password(tmp_path):
    url = "postgresql://voc:s3cr3t-pw@127.0.0.1:1/nothing"
    result = invoke("db", "status", db_url=url)
    assert result.exit_code != 0
    assert "s3cr3t-pw" not in result.output + str(result.exception)


@pytest.fixture
def dead_message(db_url) -> int:
    db = Database.connect(db_url)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with db.write() as session:
        enqueue(session=session, now=now, messages=[NewMessage(
            "card:1@slack:C0GONE", "slack:C0GONE", "send", {"message": {"title": "x"}})])
    with db.write() as session:
        finish(session=session, outbox_id=1, status="dead", now=now,
               error="channel_not_found: invite the bot to the channel or fix slack_channel")
    db.dispose()
    return 1


def test_outbox_list_and_retry_dead_messages(db_url, dead_message):
    listed = invoke("outbox", "list", db_url=db_url)
    assert listed.exit_code == 0
    assert "slack:C0GONE" in listed.output and "channel_not_found" in listed.output
    assert invoke("outbox", "retry", db_url=db_url).exit_code == 2  # says what to give
    retried = invoke("outbox", "retry", "--all", db_url=db_url)
    assert "1 message(s) queued again" in retried.output
    assert "slack:C0GONE" not in invoke("outbox", "list", db_url=db_url).output
    assert "slack:C0GONE" in invoke("outbox", "list", "--status", "pending",
                                    db_url=db_url).output
