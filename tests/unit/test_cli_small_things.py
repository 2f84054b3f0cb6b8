"""The small things a user trips on in the `voc` command."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import OutboxStatus, app
from storage import outbox
from tests.conftest import EXAMPLE_COMPANY

runner = CliRunner()


def invoke(*args: str, db_url: str, departments: Path = EXAMPLE_COMPANY):
    env = {"DATABASE_URL": db_url, "VOC_DEPARTMENTS": str(departments), "SLACK_BOT_TOKEN": "",
           "TELEGRAM_BOT_TOKEN": "", "COLUMNS": "100"}
    return runner.invoke(app, list(args), env=env)


def plain(text: str) -> str:
    """The help as a person reads it: no colours, no box drawing."""
    return re.sub(r"\x1b\[[0-9;]*m|[│╭╮╰╯─]", " ", text)


def test_departments_check_takes_the_file_to_check(tmp_path: Path) -> None:
    copy = tmp_path / "ours.toml"
    copy.write_text(EXAMPLE_COMPANY.read_text(encoding="utf-8"), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'voc.db'}"
    given = invoke("departments", "check", str(copy), db_url=url,
                   departments=tmp_path / "missing.toml")
    assert given.exit_code == 0, given.output
    assert f"{copy}: OK, 8 departments" in given.output
    from_settings = invoke("departments", "check", db_url=url, departments=copy)  # as before
    assert from_settings.exit_code == 0 and f"{copy}: OK" in from_settings.output
    missing = invoke("departments", "check", str(tmp_path / "nope.toml"), db_url=url)
    assert missing.exit_code == 2 and "nope.toml: file not found" in missing.output


def test_on_off_options_show_as_plain_flags_in_the_help(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'voc.db'}"
    for command in (["digest"], ["demo"], ["outbox", "retry"], []):
        result = invoke(*command, "--help", db_url=url)
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output, plain(result.output)
    assert re.search(r"--post +Queue it for posting", plain(invoke(
        "digest", "--help", db_url=url).output))


def test_outbox_list_refuses_an_unknown_status_naming_the_allowed_ones(tmp_path: Path) -> None:
    result = invoke("outbox", "list", "--status", "bogus", db_url=f"sqlite:///{tmp_path}/x.db")
    assert result.exit_code == 2
    said = " ".join(plain(result.output).split())
    assert "'bogus' is not one of" in said and "0 bogus" not in said
    for status in ("pending", "sending", "sent", "dead", "superseded", "skipped"):
        assert f"'{status}'" in said


def test_the_statuses_offered_are_the_outboxs_own() -> None:
    assert {s.value for s in OutboxStatus} == {outbox.PENDING, outbox.SENDING, outbox.SENT,
                                                outbox.DEAD, outbox.SUPERSEDED, outbox.SKIPPED}


def test_db_status_on_a_new_database_says_to_run_the_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = invoke("db", "status", db_url=url)
    assert result.exit_code == 1
    assert "None" not in result.output
    assert "no voc-bot tables yet; run `voc db upgrade` to create them" in result.output
    assert invoke("db", "upgrade", db_url=url).exit_code == 0
    current = invoke("db", "status", db_url=url)
    assert current.exit_code == 0 and re.search(r": at (\w+), code needs \1", current.output)
