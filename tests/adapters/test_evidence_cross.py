"""Evidence across platforms, on `voc serve`'s app (HTTP: Slack's signed requests, Telegram's
webhook), with the real slack_sdk and python-telegram-bot clients against the fakes.

A Telegram photo reaches the Slack card's thread byte for byte and the Telegram group as a
reply to the card; a Slack message's file, reported through "Report to VoC", reaches the
Telegram group; the form's file field works; a 429 on the upload delivers the file once.

Logistics: Slack C0LOGISTICS, Telegram group -1001001. Kate (U0SALES1) reports in Slack, Pavel
(telegram:777) in Telegram.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.core.shared.company import Company
from handlers.slack.evidence import token_may_go_to
from storage.db import Database
from tests.adapters.test_evidence_telegram import until
from tests.adapters.test_telegram_flows import LOGISTICS, PAVEL, SECRET
from tests.support import fake_telegram
from tests.support.fake_slack import Message, Workspace, running_workspace
from tests.support.fake_telegram import FakeTelegram
from tests.system.test_slack_socket_mode import SocketWorkspace
from tests.system.test_slack_socket_mode import socket_workspace as socket_workspace  # a fixture

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(5000)
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(4000)
PDF = b"%PDF-1.4\n" + os.urandom(3000)


@pytest.fixture
def both(db: Database, company: Company) -> Iterator[tuple[Workspace, FakeTelegram]]:
    with FakeTelegram() as telegram, running_workspace(
            db, company, telegram_bot_token=fake_telegram.TOKEN, telegram_api_url=telegram.url,
            telegram_webhook_secret=SECRET) as workspace:
        yield workspace, telegram


def webhook(workspace: Workspace, update: dict[str, Any]) -> None:
    """Telegram delivers an update to `voc serve`'s webhook."""
    response = httpx.post(f"{workspace.url}/telegram/webhook", json=update, timeout=10,
                          headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 200, response.text


def thread_files(workspace: Workspace | SocketWorkspace, card: Message, count: int
                 ) -> list[dict[str, Any]]:
    replies = workspace.slack.wait(
        lambda: (found if len(found := [f for m in workspace.slack.thread(card)
                                        for f in m.files]) >= count else None),
        what=f"{count} files in the card's thread")
    assert isinstance(replies, list)
    return replies


def test_a_telegram_photo_reaches_the_slack_thread_byte_for_byte_and_the_group(both):
    workspace, telegram = both
    webhook(workspace, telegram.media(PAVEL, photo=JPEG,
                                      caption="/complaint The courier dented the fridge"))
    telegram.expect(PAVEL.id, r"went to Logistics.*\n(.|\n)*1 attachment")
    card = workspace.slack.wait_for_message("C0LOGISTICS", "The courier dented the fridge")
    assert "1 вложение" in card.plain  # the card, in the company language (Russian)
    [uploaded] = thread_files(workspace, card, 1)
    assert uploaded["content"] == JPEG  # byte for byte
    assert uploaded["filename"].endswith(".jpg")
    telegram_card = telegram.expect(LOGISTICS, r"The courier dented the fridge")
    photo = telegram.wait(lambda: telegram.uploaded(LOGISTICS))[0]
    assert photo["reply_to"] == telegram_card["message_id"] and photo["content"] == JPEG
    completes = workspace.slack.calls_of("files.completeUploadExternal")
    assert [c.get("thread_ts") for c in completes] == [card.ts]
    assert [c.get("channel_id") for c in completes] == ["C0LOGISTICS"]


def test_a_slack_message_file_reported_by_shortcut_reaches_the_telegram_group(both):
    workspace, telegram = both
    kate = workspace.user("U0SALES1")
    shared = workspace.slack.share_file("scratch.png", PNG, "image/png")
    kate.shortcut("C0SALES", "Customer: the courier scratched the door, photo attached",
                  files=[shared])
    view = workspace.slack.wait_for_view(kate.last_trigger or "")
    assert any("scratch.png" in str(b) for b in view["blocks"] if b["type"] == "context")
    text = next(b for b in view["blocks"] if b["block_id"] == "text")
    kate.submit(view, {"kind": "complaint", "text": text["element"]["initial_value"]})
    reply = workspace.slack.wait_for_message("D" + kate.id, "VOC-1")
    assert "1 attachment" in reply.plain and "scratch.png" in reply.plain
    photo = telegram.wait(lambda: telegram.uploaded(LOGISTICS), what="the photo in Telegram")[0]
    assert photo["content"] == PNG and photo["filename"] == "scratch.png"
    assert photo["reply_to"] == telegram.find(LOGISTICS, r"scratched the door")["message_id"]
    card = workspace.slack.wait_for_message("C0LOGISTICS", "scratched the door")
    assert thread_files(workspace, card, 1)[0]["content"] == PNG
    assert workspace.slack.downloads == [shared["id"]]  # with the bot token


def test_the_form_file_field_keeps_good_files_and_names_refused_ones(both):
    workspace, telegram = both
    kate = workspace.user("U0SALES1")
    kate.command("")  # bare /voc: the form opens
    view = workspace.slack.wait_for_view(kate.last_trigger or "")
    assert next(b for b in view["blocks"] if b["block_id"] == "files")["element"]["type"] == (
        "file_input")
    files = [workspace.slack.share_file("invoice.pdf", PDF, "application/pdf"),
             workspace.slack.share_file("tool.exe", b"MZ" + PDF, "application/x-msdownload"),
             workspace.slack.share_file("unboxing.mp4", b"\0\0\0\x18ftypmp42", "video/mp4",
                                        size=60 * 1024 * 1024)]
    kate.submit(view, {"kind": "complaint", "text": "The courier charged for delivery twice",
                       "files": files})
    reply = workspace.slack.wait_for_message("D" + kate.id, "VOC-1")
    assert "1 attachment" in reply.plain and "invoice.pdf" in reply.plain
    assert "tool.exe" in reply.plain and "programs and scripts are not accepted" in reply.plain
    assert "“unboxing.mp4” was not attached: it is 60 MB, and a file may have at most 20 MB" in (
        reply.plain)
    assert files[2]["id"] not in workspace.slack.downloads  # never downloaded
    document = telegram.wait(lambda: telegram.uploaded(LOGISTICS))[0]
    assert document["method"] == "sendDocument" and document["content"] == PDF


def test_a_rate_limited_upload_is_delivered_once_after_the_wait(both):
    workspace, telegram = both
    workspace.slack.fail("files.getUploadURLExternal", status=429, retry_after=1)
    webhook(workspace, telegram.media(PAVEL, document=("receipt.pdf", PDF),
                                      caption="/complaint The courier took cash twice"))
    card = workspace.slack.wait_for_message("C0LOGISTICS", "The courier took cash twice")
    [uploaded] = thread_files(workspace, card, 1)
    assert uploaded["content"] == PDF
    assert len(workspace.slack.calls_of("files.getUploadURLExternal")) == 2  # 429, then once
    assert len(workspace.slack.calls_of("files.completeUploadExternal")) == 1
    telegram.wait(lambda: telegram.uploaded(LOGISTICS))
    until(lambda: all(row.status == "sent" for row in workspace.outbox()), "every row sent")
    assert len(telegram.uploaded(LOGISTICS)) == 1


@pytest.mark.slow
def test_voc_run_over_socket_mode_takes_a_reported_messages_file(
        socket_workspace: SocketWorkspace):  # the fixture imported above
    """`voc run` (a real process, Socket Mode): the shortcut's file reaches the card's thread."""
    running = socket_workspace
    slack = running.slack
    kate = running.user("U0SALES1")
    shared = slack.share_file("receipt.pdf", PDF, "application/pdf")
    kate.shortcut("C0SALES", "Customer: the courier broke the lamp, receipt attached",
                  files=[shared])
    view = slack.wait_for_view(kate.last_trigger or "", timeout=15)
    text = next(b for b in view["blocks"] if b["block_id"] == "text")
    kate.submit(view, {"kind": "complaint", "text": text["element"]["initial_value"]})
    card = slack.wait_for_message("C0LOGISTICS", "broke the lamp", timeout=15)
    [uploaded] = thread_files(running, card, 1)
    assert uploaded["content"] == PDF and uploaded["filename"] == "receipt.pdf"


def test_an_albums_items_arriving_at_once_on_the_webhook_make_one_report(both):
    """Telegram may deliver an album's updates in parallel webhook requests."""
    workspace, telegram = both
    items = [telegram.media(PAVEL, photo=JPEG + bytes([i]), media_group_id="many",
                            caption="/complaint The courier lost two boxes" if i == 0 else None)
             for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda update: webhook(workspace, update), reversed(items)))
    card = workspace.slack.wait_for_message("C0LOGISTICS", "The courier lost two boxes")
    files = thread_files(workspace, card, 3)
    assert sorted(f["content"] for f in files) == sorted(JPEG + bytes([i]) for i in range(3))
    assert len(workspace.signals()) == 1
    workspace.slack.wait_for_edit(card, "3 вложения")  # the card, in the company language


class ForeignHost:
    """A second loopback server standing for a host that is not Slack's: it records every
    request (and its Authorization header) and answers with a file."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                host.requests.append((self.path, self.headers.get("Authorization")))
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(PDF)))
                self.end_headers()
                self.wfile.write(PDF)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_bot_token_never_goes_to_a_host_that_is_not_slacks(both):
    workspace, _telegram = both
    foreign = ForeignHost()
    try:
        kate = workspace.user("U0SALES1")
        remote = workspace.slack.share_remote_file("contract.pdf", f"{foreign.url}/drive/1")
        unmarked = workspace.slack.share_remote_file(
            "invoice.pdf", f"{foreign.url}/files-pri/T0-F1/invoice.pdf", external=False)
        kate.shortcut("C0SALES", "Customer: the contract and invoice disagree on the price",
                      files=[remote, unmarked])
        view = workspace.slack.wait_for_view(kate.last_trigger or "")
        text = next(b for b in view["blocks"] if b["block_id"] == "text")
        kate.submit(view, {"kind": "complaint", "text": text["element"]["initial_value"]})
        reply = workspace.slack.wait_for_message("D" + kate.id, "VOC-1")
        for name in ("contract.pdf", "invoice.pdf"):
            assert f"“{name}” was not attached: it is stored outside the chat" in reply.plain
        assert foreign.requests == []  # never fetched, so no token ever went there
    finally:
        foreign.close()


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://files.slack.com/files-pri/T1-F1/a.pdf", True),
    ("http://files.slack.com/files-pri/T1-F1/a.pdf", False),  # the token never in clear text
    ("https://files.slack.com.evil.example/files-pri/T1-F1/a.pdf", False),
    ("https://evil.example/files.slack.com/a.pdf", False),
    ("http://127.0.0.1:8090/files-pri/T1-F1/a.pdf", True),  # the configured API's origin
    ("http://127.0.0.1:8091/files-pri/T1-F1/a.pdf", False),  # same host, another port
])
def test_only_slacks_file_host_and_the_api_origin_may_receive_the_token(url, allowed):
    assert token_may_go_to(url, "http://127.0.0.1:8090/api/") is allowed
