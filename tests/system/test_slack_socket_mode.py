"""Slack in Socket Mode, end to end: `voc run` as a real process with an app-level token.

The bot asks the fake Web API (`apps.connections.open`, app token) for a WebSocket URL, connects
to the fake Socket Mode server on loopback (tests/support/fake_socket_mode.py), and receives
the same command and button payloads as in HTTP mode, wrapped in envelopes it must ack. The
dispatcher runs in the same process and posts through the fake Web API. On SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from bot.core.shared.company import Company
from bot.core.shared.platforms import SLACK
from storage.db import Database
from storage.models import Signal
from tests.support.fake_slack import APP_TOKEN, TOKEN, FakeSlack, workspace_people
from tests.support.fake_socket_mode import FakeSocketMode, SocketModeUser
from tests.support.voc_process import voc_env

pytestmark = pytest.mark.slow

KATE, OLGA, IVAN = "U0SALES1", "U0LOGHEAD", "U0LOG1"


@dataclass
class SocketWorkspace:
    slack: FakeSlack
    socket_mode: FakeSocketMode
    db_url: str

    def user(self, user_id: str) -> SocketModeUser:
        return SocketModeUser(self.slack, self.socket_mode, user_id)

    def statuses(self) -> list[str]:
        db = Database.connect(self.db_url)
        try:
            with db.read() as session:
                return [s.status for s in session.exec(select(Signal).order_by(Signal.id))]  # type: ignore[arg-type]
        finally:
            db.dispose()


@pytest.fixture
def socket_workspace(db_url: str, company: Company, tmp_path: Path
                     ) -> Iterator[SocketWorkspace]:
    """The fakes, and `voc run` connected to them over Socket Mode; SIGTERM at the end."""
    channels = [c for d in company.departments if (c := SLACK.target(d.addresses))]
    log_path = tmp_path / "voc-run.log"
    with FakeSlack([*channels, "C0LEADERS", "C0GENERAL"], workspace_people(company)) as slack, \
            FakeSocketMode(slack) as socket_mode, log_path.open("w") as log:
        env = voc_env(tmp_path, DATABASE_URL=db_url, SLACK_BOT_TOKEN=TOKEN,
                      SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.api_url)
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                socket_mode.wait_connected(timeout=30)
            except AssertionError:
                bot.kill()
                bot.wait(10)
                raise AssertionError(log_path.read_text()) from None
            yield SocketWorkspace(slack, socket_mode, db_url)
        finally:
            if bot.poll() is None:
                bot.send_signal(signal.SIGTERM)
            try:
                code = bot.wait(30)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait(10)
                raise AssertionError("voc run ignored SIGTERM:\n" + log_path.read_text()
                                     ) from None
        output = log_path.read_text()
        assert code == 0, output
        assert "Traceback" not in output and " ERROR " not in output, output
        for secret in (TOKEN, APP_TOKEN):  # no token in any log line of `voc run`
            assert secret not in output, output
        # It closed its WebSocket on the way out.
        with socket_mode.changed:
            assert socket_mode.changed.wait_for(lambda: not socket_mode.connections, 5), output


def test_commands_and_buttons_arrive_over_the_websocket(socket_workspace: SocketWorkspace):
    workspace = socket_workspace
    slack, socket_mode = workspace.slack, workspace.socket_mode
    # The WebSocket URL was asked for with the app-level token, once.
    assert slack.calls_of("apps.connections.open") == [{"_token": APP_TOKEN}]
    assert socket_mode.connects == 1

    # /voc complaint: the ephemeral answer comes back in the ack itself.
    kate, olga, ivan = workspace.user(KATE), workspace.user(OLGA), workspace.user(IVAN)
    answer = kate.say("complaint The courier was 3 hours late and the sofa arrived scratched")
    assert "Thank you! Complaint VOC-1 went to Logistics." in answer
    assert "matched: courier, late" in answer
    ack = kate.last_ack or {}
    assert set(ack) == {"envelope_id", "payload"}
    assert ack["payload"]["response_type"] == "ephemeral"

    # The dispatcher (same process) posts the card to Logistics' channel.
    card = slack.wait_for_message("C0LOGISTICS", "VOC-1")
    assert "The courier was 3 hours late" in card.plain and "Kate Brown" in card.plain

    # Ivan is in Logistics but not its head: his press is acked and refused; nothing changes.
    ivan.press(card, "Принять в работу")
    assert ivan.last_ack is not None and "payload" not in ivan.last_ack  # a bare ack
    refusal = slack.wait_for_response(SocketModeUser.token_of(ivan.last_response_url or ""))
    assert ("Действия с VOC-1 доступны только руководителям отдела «Logistics» "
            "(или администратору).") in str(refusal)
    assert workspace.statuses() == ["routed"]
    # (Kate may have a pulse question: the bot opens a monthly round on its first start of
    # the month.)
    assert card.edits == 0 and [m for m in slack.dm(KATE) if "VOC-1" in m.plain] == []

    # Olga heads Logistics: the card is updated in place and Kate gets a DM.
    olga.press(card, "Принять в работу")
    assert olga.last_ack is not None
    told = slack.wait_for_response(SocketModeUser.token_of(olga.last_response_url or ""),
                                   "VOC-1")
    assert "Вы приняли VOC-1 в работу." in str(told)
    acknowledged = slack.wait_for_edit(card, "Olga Petrova")
    assert acknowledged is card and card.edits == 1
    assert [b["text"]["text"] for b in acknowledged.buttons()] == [
        "Решить", "Передать", "Спросить автора", "Объединить с…"]
    note = slack.wait_for_message("D" + KATE, "acknowledged")
    assert "Your Complaint VOC-1 was acknowledged by Olga Petrova (Logistics)." in note.plain
    assert workspace.statuses() == ["acknowledged"]

    # Every envelope was acknowledged exactly once, within Slack's 3 seconds.
    assert {e["envelope_id"] for e in socket_mode.envelopes} == set(socket_mode.acks)
    assert [e["type"] for e in socket_mode.envelopes] == [
        "slash_commands", "interactive", "interactive"]


def test_ask_and_answer_over_the_websocket(socket_workspace: SocketWorkspace):
    """The case conversation's forms reach `voc run` in Socket Mode too."""
    slack = socket_workspace.slack
    kate, olga = socket_workspace.user(KATE), socket_workspace.user(OLGA)
    kate.command("complaint The courier was 3 hours late")
    card = slack.wait_for_message("C0LOGISTICS", "VOC-1")
    olga.press(card, "Спросить автора")
    olga.submit(slack.wait_for_view(olga.last_trigger or ""), {"note": "Which order?"})
    question = slack.wait_for_message("D" + KATE, "Which order?")
    kate.press(question, "Reply")
    kate.submit(slack.wait_for_view(kate.last_trigger or ""), {"note": "Order 4711"})
    answer = slack.wait(lambda: next((m for m in slack.in_channel("C0LOGISTICS")
                                      if m.thread_ts == card.ts and "Order 4711" in m.plain),
                                     None), what="the answer in the card's thread")
    assert "Which order?" in answer.plain
