"""Evidence in the core, on SQLite and PostgreSQL: which files are kept and why others are
refused, the same content kept once, files following a reassigned case to its new
department's cards, retention's delete, and the export's attachment count."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.core.capture import evidence
from bot.core.capture.evidence import IncomingFile
from bot.core.service import Draft, VocService
from bot.core.shared.domain import Action
from bot.core.shared.errors import Forbidden
from bot.core.shared.i18n import Translator
from jobs.excel import export_workbook
from storage import files as stored
from storage.models import Attachment, FileBlob, Outbox

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(800)
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def office_zip(kind: str, *, main: str = DOCX_MAIN, extra: dict[str, bytes] | None = None,
               declared: bool = True) -> bytes:
    """A minimal office document as Word or LibreOffice writes one (`kind` docx or odt),
    with `extra` members beside its parts."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if kind == "odt":
            archive.writestr("mimetype", "application/vnd.oasis.opendocument.text",
                             compress_type=zipfile.ZIP_STORED)
            archive.writestr("content.xml", "<office:document-content/>")
        elif declared:
            archive.writestr("[Content_Types].xml", (
                '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                '2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>'))
            archive.writestr("word/document.xml", "<w:document/>")
            archive.writestr("customXml/printerSettings1.bin", b"\x00\x01printer")
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return out.getvalue()
EN = Translator("en", "Europe/Moscow")
KATE, LOGISTICS_HEAD = "slack:U0SALES1", "slack:U0LOGHEAD"


@pytest.mark.parametrize(("name", "content", "kept_as"), [
    ("scratch.jpg", JPEG, "image/jpeg"),
    ("IMG_0001.PNG", b"\x89PNG\r\n\x1a\n....", "image/png"),
    ("invoice.pdf", b"%PDF-1.7 ...", "application/pdf"),
    ("report.docx", office_zip("docx"), "application/vnd.openxmlformats-officedocument."
                                         "wordprocessingml.document"),
    ("plan.odt", office_zip("odt"), "application/vnd.oasis.opendocument.text"),
    ("call.ogg", b"OggS\x00\x02", "audio/ogg"),
    ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
    ("notes.txt", "Клиент недоволен".encode(), "text/plain"),
])
def test_what_is_kept(name: str, content: bytes, kept_as: str):
    screened = evidence.screen([IncomingFile(name, content, len(content))])
    assert [(k.name, k.mime) for k in screened.kept] == [(name, kept_as)]
    assert screened.refused == ()


@pytest.mark.parametrize(("name", "content", "why"), [
    ("setup.exe", b"MZ\x90\x00", "programs and scripts are not accepted"),
    ("photo.jpg", b"MZ\x90\x00" + JPEG, "programs and scripts are not accepted"),  # by bytes
    ("run.sh", b"echo hi", "programs and scripts are not accepted"),  # by name
    ("a.txt", b"#!/bin/sh\nrm -rf /", "programs and scripts are not accepted"),
    ("tool", b"\x7fELF\x02\x01", "programs and scripts are not accepted"),
    ("archive.zip", b"PK\x03\x04", "this type of file is not accepted"),
    ("blob.bin2", b"\x00\x01", "this type of file is not accepted"),
    ("photo.png", JPEG, "its contents are not a .png file"),
    ("notes.txt", b"abc\x00def", "its contents are not a .txt file"),
])
def test_what_is_refused_and_why(name: str, content: bytes, why: str):
    screened = evidence.screen([IncomingFile(name, content, len(content))])
    assert screened.kept == ()
    [refusal] = screened.refused
    assert why in refusal.render(EN) and name in refusal.render(EN)


@pytest.mark.parametrize(("content", "why"), [
    (office_zip("docx", extra={"payload.exe": b"MZ\x90\x00" + os.urandom(100)}),
     "it holds a program or macros"),
    (office_zip("docx", extra={"word/helper.dat": b"\x7fELF\x02\x01"}),
     "it holds a program or macros"),  # by its bytes
    (office_zip("docx", extra={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}),
     "it holds a program or macros"),
    (office_zip("docx", extra={"zeros.dat": bytes(50 << 20)}),
     "it unpacks to far more than its size (over 500 MB, or packed over 100 times)"),
    (office_zip("docx", declared=False, extra={"notes.txt": b"just a zip"}),
     "its contents are not a .docx file"),
    (office_zip("docx", main="application/vnd.ms-word.document.macroEnabled.main+xml"),
     "its contents are not a .docx file"),  # a .docm renamed
    (office_zip("odt")[:200], "its contents are not a .docx file"),  # cut short
])
def test_an_office_file_must_be_one_without_programs_or_a_bomb_inside(content: bytes, why: str):
    screened = evidence.screen([IncomingFile("invoice.docx", content, len(content))])
    assert screened.kept == ()
    [refusal] = screened.refused
    assert f"“invoice.docx” was not attached: {why}" in refusal.render(EN)


def test_limits_per_file_and_per_case_name_the_file_and_the_limit():
    big = IncomingFile("video.mp4", None, 60 * 1024 * 1024)
    assert evidence.screen([big]).refused[0].render(EN) == (
        "“video.mp4” was not attached: it is 60 MB, and a file may have at most 20 MB.")
    nineteen = b"%PDF-" + b"0" * (19 * 1024 * 1024)
    three = [IncomingFile(f"part{i}.pdf", nineteen, len(nineteen)) for i in range(3)]
    screened = evidence.screen(three)
    assert [k.name for k in screened.kept] == ["part0.pdf", "part1.pdf"]
    assert screened.refused[0].render(EN) == (
        "“part2.pdf” was not attached: a report's files may have at most 50 MB in all.")
    assert "at most 10 files" in evidence.screen(
        [IncomingFile("x.jpg", JPEG, len(JPEG))], count=10).refused[0].render(EN)
    assert evidence.clean_name("../../etc/passwd\x00.jpg") == "passwd_.jpg"


def test_a_report_keeps_its_files_once_and_they_follow_a_reassignment(service: VocService):
    photo = IncomingFile("scratch.jpg", JPEG, len(JPEG))
    first = service.capture(KATE, Draft("complaint", "The courier scratched the table",
                                        department="logistics",
                                        files=(photo, IncomingFile("x.exe", b"MZ", 2))))
    assert first.signal.attachments == ("scratch.jpg",)
    assert [r.render(EN) for r in first.refused] == [
        "“x.exe” was not attached: programs and scripts are not accepted."]
    second = service.capture(KATE, Draft("complaint", "Same photo, another courier",
                                         department="logistics", files=(photo,)))
    with service.db.read() as session:
        assert len(session.exec(select(FileBlob)).all()) == 1  # one content, two reports
        rows = session.exec(select(Outbox).where(Outbox.operation == "send_file")
                            .order_by(col(Outbox.id))).all()
    # One row per file and card: Logistics has a Slack channel and a Telegram group.
    assert sorted(r.destination for r in rows) == sorted(
        ["slack:C0LOGISTICS", "telegram:-1001001"] * 2)

    service.perform(LOGISTICS_HEAD, Action.REASSIGN, first.signal.ref, department="finance",
                    text="Billing question")
    with service.db.read() as session:
        rows = session.exec(select(Outbox).where(Outbox.operation == "send_file")
                            .order_by(col(Outbox.id))).all()
    moved = [r for r in rows if r.card_key and ":finance:" in r.card_key]
    assert [r.destination for r in moved] == ["slack:C0FINANCE", "telegram:-1001004"]
    assert all(r.payload["attachment"]["filename"] == "scratch.jpg" for r in moved)

    # Retention: the first report's files go; the content stays while the second links it.
    with service.db.write() as session:
        assert stored.delete_attachments(session=session, signal_id=first.signal.id) == 1
    with service.db.read() as session:
        assert session.exec(select(FileBlob)).first() is not None
    with service.db.write() as session:
        stored.delete_attachments(session=session, signal_id=second.signal.id)
    with service.db.read() as session:
        assert session.exec(select(FileBlob)).first() is None
        assert session.exec(select(Attachment)).first() is None
    assert service.show(KATE, first.signal.ref).attachments == ()


def test_the_export_counts_each_signals_attachments(service: VocService):
    service.capture(KATE, Draft("complaint", "The courier was late", department="logistics",
                                files=(IncomingFile("a.jpg", JPEG, len(JPEG)),
                                       IncomingFile("b.jpg", JPEG + b"b", len(JPEG) + 1))))
    service.capture(KATE, Draft("idea", "Deliver on Sundays", department="logistics"))
    book = load_workbook(io.BytesIO(export_workbook(service, t=EN)))
    signals = book.worksheets[2]
    header = [c.value for c in signals[1]]
    column = header.index("Attachments")
    assert [row[column].value for row in signals.iter_rows(min_row=2)] == [2, 0]


def test_the_terminal_attaches_a_local_file_and_shows_it_on_the_card(chat, tmp_path):
    photo = tmp_path / "scratch.jpg"
    photo.write_bytes(JPEG)
    chat.say(f"/attach {tmp_path / 'missing.jpg'}")
    chat.expect(r"Usage: /attach PATH")
    chat.say(f"/attach {photo}")
    chat.expect(r"1 file will go with your next report\.")
    chat.say("/voc complaint The courier scratched the sofa")
    chat.expect(r"Thank you! Complaint VOC-1 went to Logistics\.")
    chat.expect(r"1 attachment: scratch\.jpg")
    chat.expect(r"── Logistics · slack ──[\s\S]*?1 вложение: scratch\.jpg")  # the card (ru)
    chat.expect(r"── Logistics · slack ── \[scratch\.jpg, \d+ KB\] VOC-1 · scratch\.jpg")


def test_only_the_reporter_adds_to_an_album_once_per_message_within_the_limits(
        service: VocService):
    album = "telegram:777:album9"
    photo = IncomingFile("p0.jpg", JPEG, len(JPEG))
    first = service.capture("telegram:777", Draft("complaint", "The courier lost a box",
                                                  department="logistics", files=(photo,),
                                                  album=album, dedupe_key="telegram:777:1"))
    with pytest.raises(Forbidden):
        service.add_to_album(LOGISTICS_HEAD, album, [photo], source="telegram:1001:5")
    assert service.add_to_album("telegram:777", "telegram:777:unknown", [photo],
                                source="telegram:777:9").signal is None
    more = IncomingFile("p1.jpg", JPEG + b"1", len(JPEG) + 1)
    added = service.add_to_album("telegram:777", album, [more], source="telegram:777:2")
    assert added.signal is not None and added.signal.attachments == ("p0.jpg", "p1.jpg")
    again = service.add_to_album("telegram:777", album, [more], source="telegram:777:2")
    assert again.signal is not None and again.signal.attachments == ("p0.jpg", "p1.jpg")
    history = service.show("telegram:777", first.signal.ref).history
    assert [e.action for e in history].count("attached") == 1
    for index in range(2, 12):
        extra = IncomingFile(f"p{index}.jpg", JPEG + bytes([index]), len(JPEG) + 1)
        last = service.add_to_album("telegram:777", album, [extra],
                                    source=f"telegram:777:{index + 1}")
    assert last.signal is not None and len(last.signal.attachments) == 10
    assert "at most 10 files" in last.refused[0].render(EN)
