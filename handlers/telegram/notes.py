"""Buttons that need a sentence first: Resolve (note), Reassign (reason), Not resolved (reason),
and a pulse answer's "Add a comment" (the comment).

The core is asked before the question, so someone who may not act gets the refusal as an alert
instead of a question. In a group the question is a ForceReply to the presser: with privacy
mode on, Telegram still delivers replies to the bot's own messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import ForceReply, Update
from telegram.constants import ParseMode
from telegram.ext import ConversationHandler

from bot import render
from bot.i18n import N_, Translator
from bot.messages import Button, OutboundMessage
from bot.service import VocService
from handlers.telegram import html
from handlers.telegram.buttons import decode
from handlers.telegram.common import Context, reply, voc, whoami

NOTE = 0  # the conversation's one state: waiting for the sentence


@dataclass(frozen=True)
class Ask:
    """What to ask, which right the core checks first, and the call the answer completes."""

    question: str
    check: str | None  # None: nothing to check before asking (a pulse answer is one's own)
    call: Callable[[VocService, str, Button, str], Any]
    done: Callable[[Any, Translator], OutboundMessage]


def _done(action: str) -> Callable[[Any, Translator], OutboundMessage]:
    return lambda signal, t: render.done_reply(signal, action, t)


ASKS = {
    "resolve": Ask(N_("Resolution note: "), "resolve",
                   lambda s, me, b, note: s.resolve(me, b.ref, note), _done("resolved")),
    "reassign": Ask(N_("Reason: "), "reassign",
                    lambda s, me, b, why: s.reassign(me, b.ref, b.value or "", why),
                    _done("reassigned")),
    "reopen": Ask(N_("Why is it not resolved? "), "reopen",
                  lambda s, me, b, why: s.reopen(me, b.ref, why), _done("reopened")),
    # "Add a comment" under a pulse answer's thanks (the core refuses it before a score).
    "pulse": Ask(N_("Your comment: "), None,
                 lambda s, me, b, text: s.answer_pulse(me, b.ref, "comment", text),
                 lambda pulse, t: render.pulse_thanks(pulse, t)),
}


async def on_ask(update: Update, context: Context) -> int:
    """Check the right with the core, then ask the presser for the note or reason."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    me, t = await whoami(update, context)
    button = decode(query.data)
    ask = ASKS[button.action]
    if ask.check is not None:
        await asyncio.to_thread(voc(context).service.check, me, button.ref, ask.check)
    await query.answer()
    context.user_data["pending"] = button
    mention = f'<a href="tg://user?id={query.from_user.id}">' \
              f"{html.escape(query.from_user.full_name)}</a>"
    chat, pressed = update.effective_chat, update.effective_message
    assert chat is not None
    await chat.send_message(
        f"{mention}, {html.escape(button.ref)} · {html.escape(t.gettext(ask.question))}",
        parse_mode=ParseMode.HTML, reply_markup=ForceReply(selective=True),
        message_thread_id=pressed.message_thread_id if pressed and pressed.is_topic_message
        else None)
    return NOTE


async def on_note(update: Update, context: Context) -> int:
    """The sentence: the core call it completes (a refusal keeps the question open)."""
    message = update.effective_message
    assert message is not None and context.user_data is not None
    button = context.user_data.get("pending")
    if not isinstance(button, Button):
        return ConversationHandler.END
    me, t = await whoami(update, context)
    ask = ASKS[button.action]
    signal = await asyncio.to_thread(ask.call, voc(context).service, me, button,
                                     message.text or "")
    context.user_data.pop("pending", None)
    await reply(update, ask.done(signal, t))
    return ConversationHandler.END
