"""The files a Telegram message carries (photo, document, video, audio, voice), downloaded
with getFile for the core to check and keep.

getFile serves at most 20 MB: a larger file is not downloaded at all, and the core refuses it
by its declared size (the report is kept without it).

Only a relative path under the Bot API's file URL is downloaded: python-telegram-bot reads a
`file_path` that names a file on this machine (`/etc/hostname`) from the disk instead, so a
hostile or compromised Bot API server could make the bot post its own files.
"""

from __future__ import annotations

import logging
from pathlib import Path

from telegram import Bot, Message
from telegram import error as tg
from telegram.ext import filters

from bot.core.capture.evidence import IncomingFile
from bot.core.shared.domain import MAX_FILE_BYTES

log = logging.getLogger(__name__)
# Messages that carry a file we may keep.
MEDIA = (filters.PHOTO | filters.Document.ALL | filters.VIDEO | filters.AUDIO | filters.VOICE)
REPORT_CAPTION = filters.CaptionRegex(r"^/(complaint|praise|idea)(@\w+)?(\s|$)")


def _parts(message: Message) -> list[tuple[str, str, int, str | None]]:
    """(file id, name, declared size, claimed type) of each file of the message."""
    number = message.message_id
    found: list[tuple[str, str, int, str | None]] = []
    if message.photo:
        largest = message.photo[-1]  # Telegram lists the sizes smallest first
        found.append((largest.file_id, f"photo-{number}.jpg", largest.file_size or 0,
                      "image/jpeg"))
    for item, default in ((message.document, f"document-{number}"),
                          (message.video, f"video-{number}.mp4"),
                          (message.audio, f"audio-{number}.mp3")):
        if item is not None:
            found.append((item.file_id, item.file_name or default, item.file_size or 0,
                          item.mime_type))
    if message.voice is not None:
        found.append((message.voice.file_id, f"voice-{number}.ogg",
                      message.voice.file_size or 0, message.voice.mime_type))
    return found


def has_files(message: Message | None) -> bool:
    """Whether the message carries a file."""
    return message is not None and bool(_parts(message))


async def files_of(bot: Bot, message: Message) -> tuple[IncomingFile, ...]:
    """The message's files, downloaded unless declared larger than a file may be."""
    files = []
    for file_id, name, size, mime in _parts(message):
        content = None
        if size <= MAX_FILE_BYTES:
            try:
                found = await bot.get_file(file_id)
                if under_file_url(found.file_path, bot.base_file_url):
                    content = bytes(await found.download_as_bytearray())
                else:  # the path is not logged: the file URL holds the token
                    log.warning("getFile named no path under the Bot API's file URL for %s: "
                                "not downloaded", name)
            except tg.TelegramError as error:  # too big for getFile, gone: refused by name
                log.info("could not download %s: %s", name, error)
        files.append(IncomingFile(name, content, len(content) if content else size, mime))
    return tuple(files)


def under_file_url(file_path: str | None, base_file_url: str) -> bool:
    """Is `file_path` (as python-telegram-bot made it: the file URL and getFile's path, or
    that path alone when it names a file on this machine) a relative path under the file URL,
    naming nothing on this disk?"""
    prefix = base_file_url.rstrip("/") + "/"
    if not file_path or not file_path.startswith(prefix):
        return False
    relative = file_path.removeprefix(prefix)
    return (bool(relative) and not relative.startswith("/")
            and ".." not in relative.split("/") and not Path(file_path).exists())


def album_of(message: Message) -> str | None:
    """The key of the media group (album) the message belongs to, if any."""
    group = message.media_group_id
    return f"telegram:{message.chat_id}:{group}" if group else None
