"""What every Telegram callback needs: the core, who is talking (and their language), replies."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from telegram import LinkPreviewOptions, Message, Update, User
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.presentation.views import PersonView
from bot.core.service import VocService
from bot.core.shared.i18n import Translator
from handlers.telegram import html
from handlers.telegram.buttons import keyboard

Context = ContextTypes.DEFAULT_TYPE
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass
class People:
    """PersonViews by Telegram user id, refreshed when the profile changes or after `ttl`.

    Saves the `identify` transaction on most updates; /lang drops the entry at once, and other
    replicas see a language change within `ttl` seconds.
    """

    service: VocService
    ttl: float = 60.0
    size: int = 10_000
    _cache: OrderedDict[int, tuple[float, tuple[str, str | None], PersonView]] = field(
        default_factory=OrderedDict)

    async def of(self, user: User) -> PersonView:
        """The person behind a Telegram user, created on first contact."""
        profile = (user.full_name, user.language_code)
        hit = self._cache.get(user.id)
        if hit and hit[1] == profile and time.monotonic() - hit[0] < self.ttl:
            return hit[2]
        person = await asyncio.to_thread(self.service.identify, identity(user),
                                         display_name=user.full_name,
                                         platform_locale=user.language_code)
        self.remember(user.id, profile, person)
        return person

    def remember(self, user_id: int, profile: tuple[str, str | None], person: PersonView) -> None:
        """Keep a fresh view (after /lang or /start changed it)."""
        self._cache[user_id] = (time.monotonic(), profile, person)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)


@dataclass
class Voc:
    """The adapter's shared objects, kept in `application.bot_data["voc"]`."""

    service: VocService
    people: People


def voc(context: Context) -> Voc:
    """The shared objects of this application."""
    shared = context.bot_data["voc"]
    assert isinstance(shared, Voc)
    return shared


def identity(user: User) -> str:
    """`telegram:<user id>`."""
    return f"telegram:{user.id}"


async def whoami(update: Update, context: Context) -> tuple[str, Translator]:
    """The sender's identity and a translator in their language."""
    user = update.effective_user
    assert user is not None, "handlers are registered for updates that have a sender"
    shared = voc(context)
    person = await shared.people.of(user)
    return identity(user), shared.service.translator(person.locale)


async def reply(update: Update, message: OutboundMessage) -> Message:
    """Answer in the chat the update came from; long messages are split, buttons go last."""
    chat = update.effective_chat
    assert chat is not None
    chunks = html.split(message)
    sent: Message | None = None
    for index, text in enumerate(chunks):
        last = index == len(chunks) - 1
        sent = await chat.send_message(
            text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
            reply_markup=keyboard(message.buttons) if last else None,
            message_thread_id=_thread(update))
    assert sent is not None
    return sent


async def private(context: Context, user_id: int, message: OutboundMessage) -> None:
    """Send to a person's private chat with the bot (one they have started)."""
    for text in html.split(message):
        await context.bot.send_message(user_id, text, parse_mode=ParseMode.HTML,
                                       link_preview_options=NO_PREVIEW)


def _thread(update: Update) -> int | None:
    message = update.effective_message
    return message.message_thread_id if message and message.is_topic_message else None


def text_message(title: str, buttons: tuple[Button, ...] = ()) -> OutboundMessage:
    """A one-line reply, optionally with buttons."""
    return OutboundMessage(title=title, buttons=buttons)
