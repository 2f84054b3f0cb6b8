"""Evidence keeps no more than the picture, on `voc serve` with the fake Slack and Telegram
servers, on SQLite and PostgreSQL: a photo's EXIF (owner's name, GPS) and comments are removed
before it is kept and forwarded, its pixels and upright orientation stay; a file name's
direction controls are removed; an anonymous report's files are named neutrally.
"""

from __future__ import annotations

import io

from PIL import Image

from bot.core.capture import evidence
from bot.core.capture.evidence import IncomingFile
from tests.adapters.test_evidence_cross import PDF, thread_files, webhook
from tests.adapters.test_telegram_flows import LOGISTICS, PAVEL

OWNER, GPS = 0x013B, 0x8825


def camera_photo(*, progressive: bool = False) -> tuple[bytes, bytes]:
    """A JPEG as a phone writes it (owner, GPS, orientation, a comment) and its pixels."""
    picture = Image.new("RGB", (64, 48))
    picture.putdata([(x * 4, y * 5, (x + y) * 2) for y in range(48) for x in range(64)])
    exif = Image.Exif()
    exif[OWNER] = "Ivan Petrov"
    exif[0x0112] = 6  # taken with the phone turned: shown rotated
    exif[GPS] = {1: "N", 2: (55.0, 45.0, 21.0), 3: "E", 4: (37.0, 37.0, 4.0)}
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif, quality=90, comment=b"Ivan's phone",
                 progressive=progressive)
    return out.getvalue(), Image.open(io.BytesIO(out.getvalue())).tobytes()


def assert_only_the_picture(content: bytes, pixels: bytes) -> None:
    kept = Image.open(io.BytesIO(content))
    assert kept.tobytes() == pixels  # not re-encoded: the very same pixels
    assert dict(kept.getexif()) == {0x0112: 6}  # still shown upright
    assert b"Ivan" not in content and not kept.getexif().get_ifd(GPS)


def test_a_photos_exif_is_removed_before_it_is_kept_and_forwarded(served):
    workspace, telegram = served
    photo, pixels = camera_photo()
    assert b"Ivan Petrov" in photo
    webhook(workspace, telegram.media(PAVEL, document=("IMG_0042.jpg", photo),
                                      caption="/complaint The courier dented the fridge"))
    card = workspace.slack.wait_for_message("C0LOGISTICS", "The courier dented the fridge")
    [in_slack] = thread_files(workspace, card, 1)
    assert_only_the_picture(in_slack["content"], pixels)
    in_telegram = telegram.wait(lambda: telegram.uploaded(LOGISTICS))[0]
    assert_only_the_picture(in_telegram["content"], pixels)


def test_names_lose_direction_controls_and_anonymous_files_are_named_neutrally(served):
    workspace, telegram = served
    webhook(workspace, telegram.media(PAVEL, document=("photo\u202egnp.pdf", PDF),
                                      caption="/complaint The courier sent this invoice"))
    answer = telegram.expect(PAVEL.id, r"went to Logistics")["text"]
    assert "photognp.pdf" in answer and "\u202e" not in answer
    assert telegram.wait(lambda: telegram.uploaded(LOGISTICS))[0]["filename"] == "photognp.pdf"

    kate = workspace.user("U0SALES1")
    kate.command("")
    view = workspace.slack.wait_for_view(kate.last_trigger or "")
    files = [workspace.slack.share_file("Kate_Brown_scan.pdf", PDF, "application/pdf")]
    kate.submit(view, {"kind": "complaint", "text": "The courier was rude to the customer",
                       "department": "logistics", "anonymous": ["yes"], "files": files})
    card = workspace.slack.wait_for_message("C0LOGISTICS", "rude to the customer")
    assert "attachment-1.pdf" in card.plain and "Kate" not in card.plain
    [uploaded] = thread_files(workspace, card, 1)
    assert uploaded["filename"] == "attachment-1.pdf"
    group = telegram.wait(lambda: [u for u in telegram.uploaded(LOGISTICS)
                                   if u["filename"] == "attachment-1.pdf"])
    assert group and "Kate" not in str(group[0].get("caption"))


def test_progressive_png_and_webp_photos_lose_their_metadata_too():
    photo, pixels = camera_photo(progressive=True)
    [kept] = evidence.screen([IncomingFile("p.jpg", photo, len(photo))]).kept
    assert_only_the_picture(kept.content, pixels)
    picture = Image.open(io.BytesIO(photo))
    for fmt, name, options in (("PNG", "p.png", {}), ("WEBP", "p.webp", {"lossless": True})):
        out = io.BytesIO()
        picture.save(out, fmt, exif=picture.getexif(), **options)
        [kept] = evidence.screen([IncomingFile(name, out.getvalue(), len(out.getvalue()))]).kept
        assert b"Ivan" in out.getvalue() and b"Ivan" not in kept.content
        assert Image.open(io.BytesIO(kept.content)).tobytes() == picture.tobytes()
