"""`voc forget` rewrites the person out of every stored copy and out of the posted cards.

End to end on `voc serve`'s app with the fake Slack and Telegram servers, on SQLite and
PostgreSQL. Pavel Newman (telegram:777) is not in the departments file: he reports a complaint
with a photo from Telegram, answers Olga's question, and his case is resolved. After he is
forgotten, no table keeps his name or his account id, and both cards stop naming him.
"""

from __future__ import annotations

import json
import os

from sqlmodel import select

from bot.core.people.privacy import FORGOTTEN_NAME, forget
from storage.models import Attachment, Outbox, Signal
from tests.adapters.test_case_conversation import (
    ask_in_slack,
    card_now,
    questions_delivered,
    thread_of,
)
from tests.adapters.test_evidence_cross import webhook
from tests.adapters.test_telegram_flows import LOGISTICS, PAVEL
from tests.support.fake_slack import Workspace
from tests.support.fake_telegram import FakeTelegram

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(3000)
OLGA = "slack:U0LOGHEAD"


def all_delivered(workspace: Workspace) -> bool:
    with workspace.service.db.read() as session:
        return all(r.status in ("sent", "skipped", "superseded")
                   for r in session.exec(select(Outbox)))


def test_forget_rewrites_the_person_out_of_stored_copies_and_posted_cards(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, telegram = served
    service = workspace.service
    webhook(workspace, telegram.media(PAVEL, photo=JPEG,
                                      caption="/complaint The courier dented the fridge"))
    telegram.expect(PAVEL.id, r"VOC-1")
    slack_card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    telegram_card = telegram.expect(LOGISTICS, r"VOC-1")["message_id"]
    ask_in_slack(workspace, slack_card, "Which order?")
    question = telegram.expect(PAVEL.id, r"Which order\?")
    telegram.wait(lambda: questions_delivered(service))
    webhook(workspace, telegram.message(PAVEL, "Order 4711", reply_to=question))
    thread_of(workspace, slack_card, "Order 4711")
    service.acknowledge(OLGA, "VOC-1")
    service.resolve(OLGA, "VOC-1", "Replaced the fridge")
    telegram.expect(PAVEL.id, r"Replaced the fridge")
    card_now(workspace, slack_card, "Pavel Newman")
    telegram.wait(lambda: all_delivered(workspace), what="everything delivered")

    report = forget(service, "telegram:777", actor="cli:ops@host")
    assert report.cases == 1

    # The cards already posted are edited: they no longer name him.
    edited = card_now(workspace, slack_card, FORGOTTEN_NAME)
    assert "Pavel" not in edited.plain and "Newman" not in edited.plain
    card = telegram.wait(lambda: next(
        (m for m in telegram.sent(LOGISTICS) if m["message_id"] == telegram_card
         and FORGOTTEN_NAME in m["text"]), None), what="the Telegram card edited")
    assert "Newman" not in card["text"] and "Replaced the fridge" in card["text"]
    # No stored copy keeps his name or his account id.
    with service.db.read() as session:
        rows = session.exec(select(Outbox)).all()
        copies = [json.dumps(r.payload, ensure_ascii=False) for r in rows]
        assert not [c for c in copies if "Pavel" in c or "Newman" in c]
        assert not [r.destination for r in rows if "777" in r.destination]
        assert not [r for r in rows if r.platform == "telegram" and r.message_id
                    and r.destination == "forgotten"]
        signal = session.exec(select(Signal)).one()
        assert "777" not in (signal.dedupe_key or "")
        attachments = session.exec(select(Attachment)).all()
        assert attachments and all("777" not in (a.source_key or "") for a in attachments)
