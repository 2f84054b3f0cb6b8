"""A report is never lost in silence when the database fails after Slack was answered.

Our real app serves signed Slack requests on loopback against the fake Slack Web API, with
`VOC_DB_TIMEOUT=1`. The database fails in the ways production databases do: another session
holds the write lock (both engines), the server stops answering mid-conversation, or it goes
away (PostgreSQL, through a TCP proxy in front of the local server).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from bot.core.shared.company import Company
from storage.db import Database
from tests.adapters.test_evidence_cross import webhook
from tests.adapters.test_telegram_flows import ANNA, PAVEL, SECRET
from tests.support import fake_telegram
from tests.support.fake_slack import SlackUser, Workspace, running_workspace
from tests.support.fake_telegram import FakeTelegram
from tests.support.tcp_proxy import TcpProxy

TIMEOUT = 1.0  # VOC_DB_TIMEOUT for these tests
COMPLAINT = "The courier left the sofa in the rain"


@contextmanager
def workspace_on(url: str, company: Company) -> Iterator[Workspace]:
    db = Database.connect(url, timeout=TIMEOUT)
    try:
        with running_workspace(db, company, voc_db_timeout=TIMEOUT) as workspace:
            yield workspace
    finally:
        db.dispose()


@contextmanager
def writes_held(url: str) -> Iterator[None]:
    """Another session holds the write lock on the tables capture writes to."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    db = Database.connect(url)
    try:
        with db.engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("LOCK TABLE signal IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        db.dispose()


def response_text(response: dict[str, object]) -> str:
    return json.dumps(response, ensure_ascii=False)


def kate_with_form(workspace: Workspace) -> tuple[SlackUser, dict[str, object]]:
    kate = workspace.user("U0SALES1")
    assert kate.say("mine")  # known to the bot, so her language is settled
    assert kate.command("").status_code == 200
    return kate, workspace.slack.wait_for_view(kate.last_trigger or "")


def test_a_form_stored_while_the_database_is_locked_tells_the_reporter_with_her_words(
        db_url: str, company: Company) -> None:
    with workspace_on(db_url, company) as workspace:
        kate, view = kate_with_form(workspace)
        with writes_held(db_url):
            accepted = kate.submit(view, {"kind": "complaint", "text": COMPLAINT})
            assert accepted.status_code == 200  # Slack closes the form: the DM is all she gets
            dm = workspace.slack.wait_for_message("D" + kate.id, "NOT saved")
        assert COMPLAINT in dm.plain and "database" in dm.plain
        assert workspace.signals() == []

        kate.command("")  # the database is back: the same words go through
        view = workspace.slack.wait_for_view(kate.last_trigger or "")
        kate.submit(view, {"kind": "complaint", "text": COMPLAINT})
        workspace.slack.wait_for_message("D" + kate.id, "VOC-1")
        assert [s.text for s in workspace.signals()] == [COMPLAINT]


def test_a_command_that_outlasts_the_ack_budget_is_followed_up(
        db_url: str, company: Company) -> None:
    with workspace_on(db_url, company) as workspace:
        workspace.runtime.adapters["slack"].bot.ack_budget = 0.2  # type: ignore[attr-defined]
        kate = workspace.user("U0SALES1")
        assert kate.say("mine")
        with writes_held(db_url):
            answer = kate.say(f"complaint {COMPLAINT}")
            assert "Working on it" in answer
            token = SlackUser.token_of(kate.last_response_url or "")
            follow_up = workspace.slack.wait_for_response(token, "NOT saved")
        assert COMPLAINT in response_text(follow_up)
        assert workspace.signals() == []


@pytest.fixture
def proxied(db_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """The test's PostgreSQL database behind a proxy that can freeze or cut it."""
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        yield proxy, db_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a server that hangs
def test_a_database_that_stops_answering_neither_hangs_health_nor_silences_the_reporter(
        proxied: tuple[TcpProxy, str], company: Company) -> None:
    proxy, url = proxied
    with workspace_on(url, company) as workspace:
        workspace.runtime.adapters["slack"].bot.ack_budget = 0.2  # type: ignore[attr-defined]
        kate = workspace.user("U0SALES1")
        assert kate.say("mine")
        proxy.freeze()
        started = time.monotonic()
        health = httpx.get(f"{workspace.url}/healthz", timeout=30)
        assert health.status_code == 503 and "unreachable" in health.json()["database"]
        assert time.monotonic() - started < 10

        assert "Working on it" in kate.say(f"complaint {COMPLAINT}")
        token = SlackUser.token_of(kate.last_response_url or "")
        told = workspace.slack.wait_for_response(token, "NOT saved", timeout=20)
        assert COMPLAINT in response_text(told)

        proxy.restore()
        assert "Thank you!" in kate.say(f"complaint {COMPLAINT}")  # the bot is back
        assert httpx.get(f"{workspace.url}/healthz", timeout=30).status_code == 200
        # Whether the first attempt failed for good or reached the server once it answered
        # again, she is never left believing the wrong thing: a stored report was announced.
        first = [f"VOC-{s.id}" for s in workspace.signals()][:-1]
        for ref in first:
            workspace.slack.wait_for_response(token, ref)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_form_submitted_while_the_database_is_down_is_answered_by_dm(
        proxied: tuple[TcpProxy, str], company: Company) -> None:
    proxy, url = proxied
    with workspace_on(url, company) as workspace:
        kate, view = kate_with_form(workspace)
        proxy.cut()
        accepted = kate.submit(view, {"kind": "complaint", "text": COMPLAINT})
        assert accepted.status_code == 200
        dm = workspace.slack.wait_for_message("D" + kate.id, "NOT saved")
        assert COMPLAINT in dm.plain
        proxy.restore()
        assert workspace.signals() == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a server that hangs
def test_a_bare_voc_while_the_database_hangs_says_so(
        proxied: tuple[TcpProxy, str], company: Company) -> None:
    proxy, url = proxied
    with workspace_on(url, company) as workspace:
        kate = workspace.user("U0SALES1")
        assert kate.say("mine")  # known to the bot: her language is settled
        proxy.freeze()
        assert kate.command("").status_code == 200  # Slack has its ack within 3 s
        token = SlackUser.token_of(kate.last_response_url or "")
        told = workspace.slack.wait_for_response(token, "cannot reach its database", timeout=20)
        assert "nothing was saved" in response_text(told)
        assert not workspace.slack.calls_of("views.open")
        proxy.restore()
        kate.command("")  # the database is back: the form opens
        workspace.slack.wait_for_view(kate.last_trigger or "", timeout=20)


def test_telegram_while_the_database_is_locked_says_so_and_quotes_the_words(
        db_url: str, company: Company) -> None:
    db = Database.connect(db_url, timeout=TIMEOUT)
    try:
        with FakeTelegram() as telegram, running_workspace(
                db, company, voc_db_timeout=TIMEOUT, telegram_bot_token=fake_telegram.TOKEN,
                telegram_api_url=telegram.url, telegram_webhook_secret=SECRET) as workspace:
            webhook(workspace, telegram.message(ANNA, "/mine"))  # known: her language is set
            telegram.expect(ANNA.id, r".")
            with writes_held(db_url):
                webhook(workspace, telegram.message(ANNA, f"/complaint {COMPLAINT}"))
                told = telegram.expect(ANNA.id, r"НЕ сохранено")
                webhook(workspace, telegram.message(PAVEL, f"/complaint {COMPLAINT}"))
                stranger = telegram.expect(PAVEL.id, r"NOT saved")  # never seen: in English
            for message in (told, stranger):
                assert COMPLAINT in message["text"] and "Something went wrong" not in (
                    message["text"])
            assert "cannot reach its database" in stranger["text"]
            assert workspace.signals() == []
    finally:
        db.dispose()
