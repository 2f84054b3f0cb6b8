"""All Telegram wiring in one place: the Application, its handlers and conversation states."""

from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.core.presentation import render
from bot.core.presentation.messages import OutboundMessage
from bot.core.service import VocService
from bot.core.shared.errors import Unavailable, as_refusal
from bot.core.shared.i18n import Translator, normalise_locale
from handlers.telegram import capture, commands, menus, notes
from handlers.telegram.buttons import pattern
from handlers.telegram.common import Context, People, Voc, reply, voc, whoami
from handlers.telegram.evidence import MEDIA, REPORT_CAPTION
from handlers.telegram.request import AiohttpRequest
from storage.db import StoreUnavailable

log = logging.getLogger(__name__)
PRIVATE = filters.ChatType.PRIVATE
TYPED = filters.TEXT & ~filters.COMMAND


class SeenUpdates:
    """The last `size` update ids: Telegram re-sends an update it thinks we missed."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def first_time(self, update_id: int) -> bool:
        """True once per update id."""
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


def build_application(token: str, api_url: str, service: VocService, *,
                      polling: bool) -> Application:  # type: ignore[type-arg]
    """The python-telegram-bot Application with every handler of the bot."""
    builder = (ApplicationBuilder().token(token).base_url(api_url).job_queue(None)
               .request(AiohttpRequest()))  # not httpx: see handlers/telegram/request.py
    if api_url.endswith("/bot"):
        builder = builder.base_file_url(api_url[:-len("/bot")] + "/file/bot")
    if polling:
        # One long poll at a time; getUpdates reads for its poll timeout + this read timeout.
        builder = builder.get_updates_request(AiohttpRequest(connection_pool_size=1))
    else:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["voc"] = Voc(service, People(service))
    seen = SeenUpdates()

    async def drop_repeated(update: Update, _context: Context) -> None:
        """A duplicate update id is processed once."""
        if not seen.first_time(update.update_id):
            raise ApplicationHandlerStop

    async def drop_pressed_elsewhere(update: Update, context: Context) -> None:
        """A press without the bot's message (inline mode, which the bot does not use, or
        forged): answered, nothing done."""
        query = update.callback_query
        if query is not None and query.message is None:
            t = await _translator(update, context)
            await query.answer(t.gettext("This button no longer works."), show_alert=True)
            raise ApplicationHandlerStop

    application.add_handler(TypeHandler(Update, drop_repeated), group=-2)
    application.add_handler(TypeHandler(Update, drop_pressed_elsewhere), group=-1)
    for handler in _handlers():
        application.add_handler(handler)
    application.add_error_handler(on_error)
    return application


def _handlers() -> list:  # type: ignore[type-arg]
    def cancel(callback: Callable[[Update, Context], Coroutine[Any, Any, int]]
               ) -> list[BaseHandler[Update, Context, object]]:
        """What stops a conversation: answering has its own (it keeps other chats' questions)."""
        return [CommandHandler("cancel", callback),
                CallbackQueryHandler(callback, pattern=pattern("cancel")),
                MessageHandler(filters.COMMAND, callback)]

    media = MessageHandler[Context, object](PRIVATE & MEDIA, capture.on_media)
    with warnings.catch_warnings():
        # PTB warns that with per_message=False a button is tracked per chat and user, not
        # per message: exactly what these conversations want.
        warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message")
        reporting = ConversationHandler(
            entry_points=[
                CommandHandler(["complaint", "praise", "idea"], capture.on_report_command,
                               filters=PRIVATE),
                MessageHandler(PRIVATE & MEDIA & REPORT_CAPTION, capture.on_report_caption),
                MessageHandler(PRIVATE & filters.FORWARDED & (filters.TEXT | filters.CAPTION
                                                              | MEDIA),
                               capture.on_forwarded)],
            states={  # a file sent at any step joins the draft (capture.on_media)
                capture.KIND: [CallbackQueryHandler(capture.on_kind, pattern=pattern("kind")),
                               media, MessageHandler(TYPED, capture.on_typed_at_buttons)],
                capture.TEXT: [MessageHandler(TYPED, capture.on_text), media],
                capture.CUSTOMER: [MessageHandler(TYPED, capture.on_customer),
                                   CallbackQueryHandler(capture.on_customer,
                                                        pattern=pattern("skip")), media],
                capture.SCORE: [CallbackQueryHandler(capture.on_score,
                                                     pattern=pattern("value", "skip")), media,
                                MessageHandler(TYPED, capture.on_score_typed)],
                capture.DEPARTMENT: [CallbackQueryHandler(capture.on_department,
                                                          pattern=pattern("department")),
                                     media, MessageHandler(TYPED, capture.on_typed_at_buttons)],
                capture.CONFIRM: [CallbackQueryHandler(capture.on_confirm,
                                                       pattern=pattern("send")), media,
                                  MessageHandler(TYPED, capture.on_typed_at_buttons)],
            },
            fallbacks=cancel(capture.on_cancel), name="reporting", allow_reentry=True)
        answering = ConversationHandler(
            entry_points=[
                # Every action asking a sentence (a department or a code is chosen first).
                CallbackQueryHandler(notes.on_ask, pattern=pattern(*notes.asked_actions())),
                # A pulse answer's "Add a comment" (its digits are one-press: commands.py).
                CallbackQueryHandler(notes.on_ask, pattern=pattern("pulse") + r"[^|]*\|comment$")],
            states={notes.NOTE: [MessageHandler(TYPED, notes.on_note)]},
            fallbacks=cancel(notes.on_cancel), name="answering", allow_reentry=True)
    return [
        answering,
        reporting,
        CommandHandler("start", commands.on_start),
        CommandHandler("help", commands.on_help),
        CommandHandler("lang", commands.on_lang),
        CommandHandler("mine", commands.on_mine),
        CommandHandler("queue", commands.on_queue),
        CommandHandler("score", commands.on_score),
        CommandHandler("digest", commands.on_digest),
        CommandHandler("customer", commands.on_customer),
        CommandHandler("cancel", capture.on_cancel),
        # A reporter's plain reply to a question's DM is the answer (notes.py).
        MessageHandler(PRIVATE & filters.REPLY & TYPED, notes.on_reply),
        # A later item of an album that made a report, or a file sent without /complaint.
        MessageHandler(PRIVATE & MEDIA, capture.on_album_item),
        CallbackQueryHandler(commands.on_button),
    ]


async def on_error(update: object, context: Context) -> None:
    """The one error handler: a refusal in the sender's language, anything else logged. A
    database outage says so, and a report's words come back quoted, so nothing is lost."""
    error = context.error
    if not isinstance(update, Update) or update.effective_user is None:
        log.error("Telegram update failed", exc_info=error)
        return
    t = await _translator(update, context)
    refusal = as_refusal(error) if error is not None else None
    if refusal is None:
        log.error("Telegram update %s failed", update.update_id, exc_info=error)
        text = t.gettext("Something went wrong; please try again later.")
    else:
        if isinstance(refusal, Unavailable):
            log.warning("Telegram update %s refused: %s", update.update_id, error)
        text = refusal.render(t)
    if update.callback_query:
        await update.callback_query.answer(text[:200], show_alert=True)
    elif update.effective_chat:
        words = their_words(update) if isinstance(refusal, Unavailable) else None
        await reply(update, render.capture_failed(words, text, t) if words
                    else OutboundMessage(title="⚠ " + text))


async def _translator(update: Update, context: Context) -> Translator:
    """The sender's language; their Telegram one when the database cannot say."""
    try:
        return (await whoami(update, context))[1]
    except StoreUnavailable:
        user = update.effective_user
        return voc(context).service.translator(
            normalise_locale(user.language_code if user else None))


def their_words(update: Update) -> str | None:
    """What the person wrote, without a leading command (`/complaint`): None for a bare
    command (`/mine`) or a message without text."""
    message = update.effective_message
    typed = ((message.text or message.caption or "") if message else "").strip()
    if typed.startswith("/"):
        typed = typed.partition(" ")[2].strip()
    return typed or None


async def register_commands(application: Application) -> None:  # type: ignore[type-arg]
    """Command menus by scope and language, and the bot's descriptions (menus.py)."""
    await menus.register_menus(application.bot, voc_of(application).service)

def voc_of(application: Application) -> Voc:  # type: ignore[type-arg]
    """The shared objects kept in bot_data."""
    shared = application.bot_data["voc"]
    assert isinstance(shared, Voc)
    return shared


__all__ = ["build_application", "register_commands", "voc"]
