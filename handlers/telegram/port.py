"""Delivery of outbox messages through the Bot API: posts, in-place edits, files.

Destinations are `telegram:<chat id>` or `telegram:<chat id>/<forum topic id>`; a person's
private chat has their user id as its chat id. Telegram's answers become the dispatcher's
vocabulary: flood control -> RetryAfter (no attempt spent); a chat the bot can no longer
write to -> PermanentDeliveryError with what the admin should do (the dead-letter list).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, InputFile, ReplyParameters
from telegram import error as tg
from telegram.constants import ParseMode

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import PermanentDeliveryError, RateLimit, RetryAfter
from handlers.telegram import html, menus
from handlers.telegram.buttons import keyboard
from handlers.telegram.common import NO_PREVIEW
from jobs.limits import Limit, PortLimits, Rate

log = logging.getLogger(__name__)

T = TypeVar("T")
CAPTION_LIMIT = 1024
_PHOTO = (".png", ".jpg", ".jpeg", ".webp")
PHOTO_LIMIT = 10 * 1024 * 1024  # sendPhoto's limit; a larger picture goes as a document


def parse_destination(destination: str) -> tuple[int, int | None]:
    """(chat id, forum topic id or None) from `telegram:-1001/7`."""
    platform, _, target = destination.partition(":")
    chat, _, topic = target.partition("/")
    if platform != "telegram" or not chat.lstrip("-").isdecimal() or (
            topic and not topic.isdecimal()):
        raise PermanentDeliveryError(f"{destination!r} is not a Telegram destination "
                                     "(telegram:<chat id>[/<topic id>])")
    return int(chat), int(topic) if topic else None


def _advice(destination: str, error: tg.TelegramError) -> str:
    """An admin-readable account of a refusal that retrying cannot fix."""
    what = error.message
    lowered = what.lower()
    if "blocked by the user" in lowered or "initiate conversation" in lowered:
        fix = ("the person blocked the bot or never started it: ask them to open the bot and "
               "press Start, then `voc outbox retry`")
    elif "kicked" in lowered or "not a member" in lowered or "chat not found" in lowered:
        fix = ("the bot is not in that group (removed, or the chat id is wrong): add the bot "
               "to the group and check telegram_chat in the departments file, then "
               "`voc outbox retry`")
    elif "thread not found" in lowered:
        fix = "the forum topic is gone: fix telegram_topic in the departments file"
    else:
        fix = "Telegram refused the request; retrying would not help"
    return f"Telegram refused delivery to {destination}: {what} ({fix})"


async def _deliver(destination: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except tg.RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise RetryAfter(seconds, "Telegram flood control") from exc
    except tg.ChatMigrated as exc:
        raise PermanentDeliveryError(
            f"Telegram refused delivery to {destination}: the group became a supergroup; set "
            f"telegram_chat = {exc.new_chat_id} in the departments file, then `voc "
            "departments sync` and `voc outbox retry`") from exc
    except (tg.Forbidden, tg.BadRequest) as exc:
        raise PermanentDeliveryError(_advice(destination, exc)) from exc


# What Telegram allows, as token buckets (jobs/limits.py; "N per W seconds" is burst +
# per_second * W <= N). Bots FAQ "My bot is hitting limits, how do I avoid this?"
# (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): "When
# sending messages inside a particular chat, avoid sending more than one message per second. We
# may allow short bursts that go over this limit"; "the API will not allow more than 30 messages
# per second or so" (bulk, to many chats); "your bot will not be able to send more than 20
# messages per minute to the same group". Edits count as messages here (an edit can be
# flood-limited too). A private chat gets Slack's burst of 3; a group 5 + 15/min * 1 min = 20;
# everything 10 + 20/s * 1 s = 30 (a burst of reports sends each group its card and each
# reporter a confirmation: ten go at once).
PRIVATE = Rate(burst=3, per_second=1.0)
GROUP = Rate(burst=5, per_second=15 / 60)
OVERALL = Rate(burst=10, per_second=20.0)


@dataclass(frozen=True)
class TelegramLimits(PortLimits):
    """The chat's bucket (a group's forum topics share their group's) and the bot's overall.
    Groups and channels have negative ids (`telegram:-1001/7`), people positive ones. A long
    message the port splits into several draws one token only."""

    def draws(self, platform: str, destination: str, operation: str) -> list[Limit]:
        chat = destination.partition("/")[0]
        group = not chat.partition(":")[2].isdecimal()
        return [Limit(chat, GROUP if group else PRIVATE),
                Limit("telegram:*", OVERALL, "platform")]


class TelegramPort:
    """The DeliveryPort of Telegram, over one python-telegram-bot `Bot`."""

    platforms: tuple[str, ...] = ("telegram",)
    # About 20 messages a minute into one group, one a second to a person, 30 a second overall.
    rate_limit: RateLimit = TelegramLimits(per_destination=(20, 60.0), overall=(30, 1.0))

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str,
                   reply_to: str | None = None) -> str:
        """Post a message: one message if it has buttons (edited later), else split. A reply
        answers the message `reply_to` (sent on its own if that one was deleted)."""
        chat, topic = parse_destination(destination)
        texts = [html.fit(message)] if message.buttons else html.split(message)
        first: str | None = None
        replying = (ReplyParameters(int(reply_to), allow_sending_without_reply=True)
                    if reply_to and reply_to.isdecimal() else None)
        for index, text in enumerate(texts):
            sent = await _deliver(destination, self.bot.send_message(
                chat, text, parse_mode=ParseMode.HTML, message_thread_id=topic,
                link_preview_options=NO_PREVIEW, reply_parameters=replying if index == 0 else None,
                reply_markup=keyboard(message.buttons) if index == len(texts) - 1 else None))
            first = first or str(sent.message_id)
        assert first is not None
        return first

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        """Edit a card in place (same text again is fine: Telegram says "not modified")."""
        chat, _topic = parse_destination(destination)
        try:
            await _deliver(destination, self.bot.edit_message_text(
                html.fit(message), chat_id=chat, message_id=int(message_id),
                parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                reply_markup=keyboard(message.buttons)))
        except PermanentDeliveryError as exc:
            if "message is not modified" not in str(exc).lower():
                raise

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str,
                        reply_to: str | None = None) -> str:
        """Upload a picture as a photo (Telegram takes photos up to 10 MB), anything else as a
        document; with `reply_to`, as a reply to that message (a card)."""
        chat, topic = parse_destination(destination)
        caption = html.escape(file.caption[:CAPTION_LIMIT - 20]) if file.caption else None
        upload = InputFile(file.content, filename=file.filename)
        replying = (ReplyParameters(int(reply_to), allow_sending_without_reply=True)
                    if reply_to else None)
        photo = (file.filename.lower().endswith(_PHOTO)
                 and len(file.content) <= PHOTO_LIMIT)
        send = (self.bot.send_photo(chat, upload, caption=caption, parse_mode=ParseMode.HTML,
                                    message_thread_id=topic, reply_parameters=replying)
                if photo else
                self.bot.send_document(chat, upload, caption=caption,
                                       parse_mode=ParseMode.HTML, message_thread_id=topic,
                                       reply_parameters=replying))
        return str((await _deliver(destination, send)).message_id)

    async def react(self, destination: str, message_id: int, state: str) -> None:
        """Put the state's reaction on a message (the reporter's own report). Best effort: a
        message deleted since, or a chat where reactions are off, changes nothing."""
        chat, _topic = parse_destination(destination)
        try:
            await _deliver(destination, self.bot.set_message_reaction(
                chat, message_id, reaction=menus.REACTIONS.get(state, "👍")))
        except PermanentDeliveryError as exc:
            log.info("no reaction on message %s in %s: %s", message_id, chat, exc)

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        """Always None: the Bot API cannot list or search a chat's messages.

        So a message whose delivery was uncertain (the process died between Telegram's OK and
        our commit) is posted again: on Telegram the guarantee is at least once, and such a
        crash can show one duplicate message. Card edits are idempotent and never duplicate.
        """
        return None
