"""Buttons that need a sentence first (every action whose rule has a `note_prompt`: Resolve's
note, Reassign's reason, ...), and a pulse answer's "Add a comment" (the comment).

The core is asked before the question, so someone who may not act gets the refusal as an alert
instead of a question. In a group the question is a ForceReply to the presser: with privacy
mode on, Telegram still delivers replies to the bot's own messages.

A head may be asked in several chats at once (two department groups, the private chat), and
the conversation runs per chat and user, so each open question is kept by where it was asked:
the chat and the prompt message. An answer completes the prompt it replies to, else the newest
question of that chat, never one asked elsewhere.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import ForceReply, Message, Update
from telegram.constants import ParseMode
from telegram.ext import ConversationHandler

from bot.core.handling.rules import RULES, rule_of
from bot.core.presentation import render
from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.service import VocService
from bot.core.shared.domain import Action
from bot.core.shared.i18n import N_, Translator
from handlers.telegram import capture, commands, html
from handlers.telegram.buttons import decode
from handlers.telegram.common import Context, reply, text_message, voc, whoami

NOTE = 0  # the conversation's one state: waiting for the sentence
REMEMBERED = 20  # open questions kept per person; the oldest is forgotten first
Where = tuple[int, int]  # (chat id, prompt message id)


@dataclass(frozen=True)
class Ask:
    """What to ask, which right the core checks first, and the call the answer completes."""

    question: str
    check: str | None  # None: nothing to check before asking (a pulse answer is one's own)
    call: Callable[[VocService, str, Button, str], Any]
    done: Callable[[Any, Translator], OutboundMessage]


def _case_ask(action: str) -> Ask:
    """An action on a case that needs a sentence: its question, the core's check first, then
    the action with the sentence (and the department the button carries, for Reassign)."""
    rule = RULES[action]
    assert rule.note_prompt is not None
    return Ask(rule.note_prompt, action,
               lambda s, me, b, text: s.perform(me, action, b.ref, text=text,
                                                department=b.value or "", value=b.value or ""),
               lambda signal, t: render.action_done(signal, action, t))


PULSE_COMMENT = Ask(N_("Your comment: "), None,  # the core refuses it before a score
                    lambda s, me, b, text: s.answer_pulse(me, b.ref, "comment", text),
                    lambda pulse, t: render.pulse_thanks(pulse, t))


def asked_actions() -> list[str]:
    """The actions on a case that ask a sentence (the answering conversation's entries)."""
    return [action for action, rule in RULES.items() if rule.note_prompt]


def ask_of(action: str) -> Ask:
    """What a button of `action` asks: its rule's note, or a pulse answer's comment."""
    return PULSE_COMMENT if action == "pulse" else _case_ask(action)


def _questions(context: Context) -> OrderedDict[Where, Button]:
    """This person's open questions, oldest first (user_data is per user, across chats)."""
    assert context.user_data is not None
    questions: OrderedDict[Where, Button] = context.user_data.setdefault(
        "questions", OrderedDict())
    return questions


def _asked(questions: OrderedDict[Where, Button], message: Message) -> Where | None:
    """The prompt `message` replies to, else the newest question of its chat (people in a
    private chat just type); None when nothing was asked there."""
    replied = message.reply_to_message
    if replied is not None:
        if (message.chat_id, replied.message_id) in questions:
            return message.chat_id, replied.message_id
        if replied.from_user is not None and replied.from_user.is_bot:
            return None  # answers a question no longer open: never hand it to another case
    return next((where for where in reversed(questions) if where[0] == message.chat_id), None)


async def on_ask(update: Update, context: Context) -> int:
    """Check the right with the core, then ask the presser for the note or reason."""
    query, chat, pressed = update.callback_query, update.effective_chat, update.effective_message
    assert query is not None and query.data is not None and chat is not None
    me, t = await whoami(update, context)
    button = decode(query.data)
    ask = ask_of(button.action)
    service = voc(context).service
    rule = rule_of(button.action)
    if rule is not None and button.value is None and rule.needs_department:
        # The departments first (the core checks the right there); then the note is asked.
        await commands.offer_departments(update, context, button)
        return ConversationHandler.END
    if ask.check is not None:
        await asyncio.to_thread(service.check, me, button.ref, ask.check)
    await query.answer()
    if rule is not None and button.value is None and rule.asks_code and (
            codes := service.resolution_codes(t.locale)):
        # The company keeps resolution codes: one is chosen first, then the note is asked.
        question = t.gettext("What caused %(ref)s?") % {"ref": button.ref}
        await reply(update, text_message(question, tuple(
            Button(button.action, button.ref, label, value=code) for code, label in codes)))
        return ConversationHandler.END
    mention = f'<a href="tg://user?id={query.from_user.id}">' \
              f"{html.escape(query.from_user.full_name)}</a>"
    prompt = await chat.send_message(
        f"{mention}, {html.escape(button.ref)} · {html.escape(t.gettext(ask.question))}",
        parse_mode=ParseMode.HTML, reply_markup=ForceReply(selective=True),
        message_thread_id=pressed.message_thread_id if pressed and pressed.is_topic_message
        else None)
    questions = _questions(context)
    questions[chat.id, prompt.message_id] = button
    while len(questions) > REMEMBERED:
        questions.popitem(last=False)
    return NOTE


async def on_note(update: Update, context: Context) -> int:
    """The sentence: the core call it completes (a refusal keeps the question open)."""
    message = update.effective_message
    assert message is not None
    questions = _questions(context)
    where = _asked(questions, message)
    me, t = await whoami(update, context)
    if where is None:
        if not _open_here(questions, message.chat_id):
            return ConversationHandler.END
        await reply(update, text_message(t.gettext(
            "That question is no longer open: reply to the bot's latest question.")))
        return NOTE
    button = questions[where]
    ask = ask_of(button.action)
    signal = await asyncio.to_thread(ask.call, voc(context).service, me, button,
                                     message.text or "")
    questions.pop(where, None)
    await reply(update, ask.done(signal, t))
    # Other questions asked in this chat are still waiting for their answers.
    return NOTE if _open_here(questions, message.chat_id) else ConversationHandler.END


def _open_here(questions: OrderedDict[Where, Button], chat_id: int) -> bool:
    return any(chat == chat_id for chat, _ in questions)


async def on_reply(update: Update, context: Context) -> None:
    """A reply to one of the bot's messages in the private chat, outside any question: the
    answer to the department's question it replies to (the core refuses any other)."""
    message = update.effective_message
    assert message is not None and message.reply_to_message is not None
    me, t = await whoami(update, context)
    signal = await asyncio.to_thread(
        voc(context).service.answer_message, me, f"telegram:{message.chat_id}",
        str(message.reply_to_message.message_id), message.text or "")
    await reply(update, render.action_done(signal, Action.ANSWER, t))


async def on_cancel(update: Update, context: Context) -> int:
    """/cancel (or another command) while asked: this chat's questions go, other chats' stay."""
    chat = update.effective_chat
    questions = _questions(context)
    for where in [w for w in questions if chat is not None and w[0] == chat.id]:
        del questions[where]
    return await capture.on_cancel(update, context)
