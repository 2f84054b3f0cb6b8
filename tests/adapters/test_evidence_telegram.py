"""Evidence from Telegram, end to end (the real python-telegram-bot client long-polls the fake
Bot API; `voc run`'s path): a photo captioned /complaint, an album, a file sent while the bot
asks for the text, a forwarded photo; refused files (too big, a program, too many) are named,
and the report is kept. The files reach the department's group as replies to the card.

People: Olga (telegram:1001, head of Logistics, group -1001001), Pavel (not in the file).
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable

import pytest
from openpyxl import Workbook
from sqlmodel import select

from handlers.telegram.evidence import under_file_url
from storage import files as stored
from storage.models import Attachment
from tests.adapters.test_telegram_flows import LOGISTICS, OLGA, PAVEL, Bot
from tests.conftest import FakeClock
from tests.unit.test_evidence_core import office_zip

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(3000)
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
PDF = b"%PDF-1.7\n" + os.urandom(1500)


def until(check: Callable[[], object], what: str, seen: Callable[[], object] = str,
          timeout: float = 10.0) -> None:
    """Wait for a condition the database holds (no fake server is told of it)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {seen()}"
        time.sleep(0.02)


def attachments(bot: Bot) -> list[Attachment]:
    with bot.service.db.read() as session:
        return list(session.exec(select(Attachment).order_by(Attachment.id)))


def test_a_captioned_photo_is_a_report_and_reaches_the_group_as_a_reply_to_its_card(bot: Bot):
    bot.fake.push(bot.fake.media(PAVEL, photo=JPEG,
                                 caption="/complaint The sofa arrived scratched, delivery 77"))
    answer = bot.fake.expect(PAVEL.id, r"went to Logistics")
    assert "1 attachment" in answer["text"]
    card = bot.fake.expect(LOGISTICS, r"The sofa arrived scratched")
    assert "1 вложение" in card["text"]  # the company's language: Russian
    photo = bot.fake.wait(lambda: bot.fake.uploaded(LOGISTICS), what="the photo in the group")[0]
    assert photo["method"] == "sendPhoto" and photo["content"] == JPEG
    assert photo["reply_to"] == card["message_id"]
    assert re.match(r"VOC-\d+ · photo-\d+\.jpg", photo["caption"])
    until(lambda: all(row.status == "sent" for row in bot.outbox()
                      if row.platform == "telegram"), "every Telegram row sent",
          lambda: [(r.destination, r.operation, r.status, r.last_error) for r in bot.outbox()])
    assert len(bot.fake.uploaded(LOGISTICS)) == 1  # once


def test_an_album_becomes_one_report_with_every_file(bot: Bot):
    bot.fake.push(bot.fake.media(PAVEL, photo=JPEG, media_group_id="album1",
                                 caption="/complaint The courier broke the legs off, see photos"))
    bot.fake.push(bot.fake.media(PAVEL, photo=JPEG + b"second",
                                 media_group_id="album1"))
    bot.fake.push(bot.fake.media(PAVEL, document=("receipt.pdf", PDF), media_group_id="album1"))
    bot.fake.expect(PAVEL.id, r"went to Logistics")
    bot.fake.wait(lambda: len(bot.fake.uploaded(LOGISTICS)) == 3, what="three files")
    assert len(bot.signals()) == 1
    assert [a.filename for a in attachments(bot)][2] == "receipt.pdf"
    card = bot.fake.find(LOGISTICS, r"The courier broke")
    bot.fake.wait(lambda: "3 вложения" in bot.fake.find(LOGISTICS, r"The courier broke")["text"],
                  what="the card counting three files")
    assert {f["reply_to"] for f in bot.fake.uploaded(LOGISTICS)} == {card["message_id"]}
    assert bot.fake.uploaded(LOGISTICS)[2]["content"] == PDF


def test_a_file_sent_while_the_bot_asks_for_the_text_joins_the_report(bot: Bot):
    bot.say(PAVEL, "/complaint")
    bot.fake.expect(PAVEL.id, r"What did the customer say")
    bot.fake.push(bot.fake.media(PAVEL, document=("invoice.pdf", PDF)))
    bot.fake.expect(PAVEL.id, r"Got 1 file\. What did the customer say")
    bot.say(PAVEL, "Charged twice for one courier delivery")
    customer = bot.fake.expect(PAVEL.id, r"Customer \(optional\)")
    bot.press(PAVEL, customer, "Skip")
    score = bot.fake.expect(PAVEL.id, r"score 0-10")
    bot.press(PAVEL, score, "Skip")
    department = bot.fake.expect(PAVEL.id, r"Which department")
    bot.press(PAVEL, department, r"✓ .*")
    confirm = bot.fake.expect(PAVEL.id, r"Send this")
    bot.press(PAVEL, confirm, "Send")
    assert "1 attachment" in bot.fake.expect(PAVEL.id, r"Thank you")["text"]
    document = bot.fake.wait(lambda: bot.fake.uploaded(LOGISTICS), what="the file")[0]
    assert document["method"] == "sendDocument" and document["content"] == PDF


def test_a_forwarded_photo_keeps_its_photo(bot: Bot):
    origin = {"type": "user", "date": 1700000000,
              "sender_user": {"id": 9, "is_bot": False, "first_name": "Ivan"}}
    bot.fake.push(bot.fake.media(PAVEL, photo=JPEG, caption="The courier left it in the rain",
                                 forward_origin=origin))
    kinds = bot.fake.expect(PAVEL.id, r"complaint, praise or an idea")
    bot.press(PAVEL, kinds, "Complaint")
    bot.fake.expect(PAVEL.id, r"Thank you")
    assert bot.fake.wait(lambda: bot.fake.uploaded(LOGISTICS))[0]["content"] == JPEG
    assert bot.signals()[0].customer == "Ivan"


def test_refused_files_are_named_and_the_report_is_kept(bot: Bot):
    bot.fake.push(bot.fake.media(PAVEL, document=("video.mp4", b"\x00" * 10), size=60 << 20,
                                 caption="/complaint The courier shouted at the customer"))
    answer = bot.fake.expect(PAVEL.id, r"went to Logistics")["text"]
    assert "“video.mp4” was not attached: it is 60 MB, and a file may have at most 20 MB" in (
        answer)
    assert bot.signals()[0].text == "The courier shouted at the customer"
    assert not bot.fake.downloads  # a file over the limit is never downloaded

    bot.fake.push(bot.fake.media(PAVEL, document=("invoice.pdf", b"MZ\x90\x00" + PDF),
                                 caption="/complaint The courier delivery invoice is wrong"))
    answer = bot.fake.expect(PAVEL.id, r"went to Logistics")["text"]
    assert "“invoice.pdf” was not attached: programs and scripts are not accepted" in answer
    bot.fake.push(bot.fake.media(PAVEL, document=("setup.exe", b"plain"),
                                 caption="/complaint The courier sent an installer"))
    answer = bot.fake.expect(PAVEL.id, r"went to Logistics")["text"]
    assert "“setup.exe” was not attached: programs and scripts are not accepted" in answer
    bot.fake.push(bot.fake.media(PAVEL, document=("data.xyz", b"\x01\x02"),
                                 caption="/complaint The courier sent a weird file"))
    answer = bot.fake.expect(PAVEL.id, r"went to Logistics")["text"]
    assert "“data.xyz” was not attached: this type of file is not accepted" in answer
    assert len(bot.signals()) == 4 and not attachments(bot)
    assert not bot.fake.uploaded(LOGISTICS)


def test_an_album_of_eleven_keeps_ten_and_names_the_eleventh(bot: Bot):
    bot.fake.push(bot.fake.media(PAVEL, photo=JPEG + b"0", media_group_id="big",
                                 caption="/complaint Eleven photos of the courier damage"))
    for index in range(1, 11):
        bot.fake.push(bot.fake.media(PAVEL, photo=JPEG + str(index).encode(),
                                     media_group_id="big"))
    bot.fake.expect(PAVEL.id, r"went to Logistics")
    refusal = bot.fake.expect(PAVEL.id, r"a report may have at most 10 files")
    assert "photo-" in refusal["text"]
    assert len(attachments(bot)) == 10 and len(bot.signals()) == 1
    with bot.service.db.read() as session:
        assert stored.totals(session=session, signal_id=bot.signals()[0].id or 0)[0] == 10


def test_a_photo_without_a_report_command_gets_a_hint_and_stores_nothing(bot: Bot):
    bot.fake.push(bot.fake.media(OLGA, photo=JPEG))
    bot.fake.expect(OLGA.id, r"с подписью /complaint")  # Olga reads Russian
    assert not bot.signals()


def test_flood_control_on_the_photo_delivers_it_once_after_the_wait(
        bot: Bot, clock: FakeClock):
    bot.fake.fail("sendPhoto", 429, "Too Many Requests", chat_id=LOGISTICS, retry_after=1)
    bot.fake.push(bot.fake.media(PAVEL, photo=JPEG,
                                 caption="/complaint The courier dropped the box"))
    card = bot.fake.expect(LOGISTICS, r"The courier dropped the box")
    bot.fake.wait(lambda: bot.fake.calls_of("sendPhoto"), what="the refused photo")
    until(lambda: any(r.last_error and "flood" in r.last_error for r in bot.outbox()),
          "the row postponed")
    clock.advance(seconds=2)  # past Telegram's retry_after
    until(lambda: all(row.status == "sent" for row in bot.outbox()
                      if row.platform == "telegram"), "every Telegram row sent",
          lambda: [(r.destination, r.operation, r.status, r.last_error) for r in bot.outbox()])
    photos = bot.fake.calls_of("sendPhoto")
    assert len(photos) == 2  # refused once (429), then sent
    [photo] = bot.fake.uploaded(LOGISTICS)
    assert photo["content"] == JPEG and photo["reply_to"] == card["message_id"]


def test_a_forwarded_photo_without_a_caption_asks_for_the_words_and_keeps_the_photo(bot: Bot):
    origin = {"type": "user", "date": 1700000000,
              "sender_user": {"id": 9, "is_bot": False, "first_name": "Ivan"}}
    bot.fake.push(bot.fake.media(PAVEL, photo=JPEG, forward_origin=origin))
    bot.press(PAVEL, bot.fake.expect(PAVEL.id, r"complaint, praise or an idea"), "Complaint")
    bot.fake.expect(PAVEL.id, r"What did the customer say")
    bot.say(PAVEL, "The courier left the parcel in the rain")
    bot.press(PAVEL, bot.fake.expect(PAVEL.id, r"Customer \(optional\)"), "Skip")
    bot.press(PAVEL, bot.fake.expect(PAVEL.id, r"score 0-10"), "Skip")
    bot.press(PAVEL, bot.fake.expect(PAVEL.id, r"Which department"), r"✓ .*")
    bot.press(PAVEL, bot.fake.expect(PAVEL.id, r"Send this"), "Send")
    assert "1 attachment" in bot.fake.expect(PAVEL.id, r"Thank you")["text"]
    assert bot.signals()[0].customer == "Ivan"
    assert bot.fake.wait(lambda: bot.fake.uploaded(LOGISTICS))[0]["content"] == JPEG


def test_an_archive_named_docx_is_refused_and_a_real_workbook_reaches_the_group(bot: Bot):
    bomb = office_zip("docx", declared=False, extra={"payload.exe": b"MZ\x90\x00",
                                                    "zeros.dat": bytes(50 << 20)})
    assert len(bomb) < 100_000  # 50 MB of zeros pack into some 50 KB
    bot.fake.push(bot.fake.media(PAVEL, document=("invoice.docx", bomb),
                                 caption="/complaint The courier sent us an odd invoice"))
    answer = bot.fake.expect(PAVEL.id, r"went to Logistics")["text"]
    assert "“invoice.docx” was not attached: it unpacks to far more than its size" in answer
    out = io.BytesIO()
    Workbook().save(out)  # what Excel writes: a real .xlsx
    bot.fake.push(bot.fake.media(PAVEL, document=("prices.xlsx", out.getvalue()),
                                 caption="/complaint The courier left the wrong boxes, see list"))
    answer = bot.fake.expect(PAVEL.id, r"went to Logistics")["text"]
    assert "1 attachment" in answer and "not attached" not in answer
    uploaded = bot.fake.wait(lambda: bot.fake.uploaded(LOGISTICS), what="the workbook")
    assert [u["filename"] for u in uploaded] == ["prices.xlsx"]  # the archive never went
    assert [a.filename for a in attachments(bot)] == ["prices.xlsx"]


def test_a_getfile_path_naming_a_local_file_is_never_read(bot: Bot, tmp_path):
    secret = tmp_path / "secret.jpg"  # a file on the bot's own disk, looking like a photo
    secret.write_bytes(JPEG[:10] + b"the server's private key")
    update = bot.fake.media(PAVEL, photo=JPEG,
                            caption="/complaint The courier lost the parcel, photo attached")
    for size in update["message"]["photo"]:  # a hostile Bot API answers getFile with it
        bot.fake.files[size["file_id"]] = (str(secret), JPEG)
    bot.fake.push(update)
    answer = bot.fake.expect(PAVEL.id, r"went to Logistics")["text"]
    assert re.search(r"“photo-\d+\.jpg” was not attached: it could not be downloaded", answer)
    assert bot.signals()[0].text == "The courier lost the parcel, photo attached"
    assert not attachments(bot) and not bot.fake.uploaded(LOGISTICS)
    assert bot.fake.calls_of("getFile")  # asked, but its answer was not followed


@pytest.mark.parametrize(("path", "followed"), [
    ("https://api.telegram.org/file/botT/photos/file_1.jpg", True),
    ("https://api.telegram.org/file/botT//etc/hostname", False),
    ("https://api.telegram.org/file/botT/../botU/photos/file_1.jpg", False),
    ("/etc/hostname", False),
    ("photos/file_1.jpg", False),
    (None, False),
])
def test_only_paths_under_the_file_url_are_followed(path, followed):
    assert under_file_url(path, "https://api.telegram.org/file/botT") is followed
