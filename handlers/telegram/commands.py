"""Commands and one-press buttons: each callback translates, makes one core call, renders.

Refusals (VocError) are not caught here: the application's error handler renders them in the
sender's language, as an alert for a button press and as a reply for a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.core.handling.rules import RULES, rule_of
from bot.core.presentation import render
from bot.core.presentation.customer_story import customer_reply, story_reply
from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.service import VocService
from bot.core.shared.i18n import N_, SUPPORTED_LOCALES, Translator
from handlers.telegram.buttons import decode
from handlers.telegram.capture import dedupe_key
from handlers.telegram.common import Context, private, reply, text_message, voc, whoami

HELP = N_("""Report what a customer said, in this private chat:
/complaint TEXT, /praise TEXT, /idea TEXT: report at once (the department is suggested)
/complaint, /praise, /idea: report step by step
/score N [COMMENT]: record a customer's 0-10 score
Forward a customer's message here to report it.
/mine: your reports and their status
/queue [DEPARTMENT]: a department's open items, overdue first
/digest: the weekly digest (leadership and heads)
/customer NAME: a customer's story across departments
/lang en|ru|zh: your language
/cancel: stop the current question""")
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "zh": "中文"}


@dataclass(frozen=True)
class Press:
    """How a pressed button becomes one core call and the confirmation shown for it."""

    call: Callable[[VocService, str, Button], Any]
    done: Callable[[Any, Translator], OutboundMessage]
    clears_keyboard: bool = False  # a one-time answer (a rating): the keypad goes away


def _case_press(action: str) -> Press:
    """A button that acts on a case: the core's action with the button's value (the chosen
    department, or the rating). A button under a card stays (the card is redrawn); any other
    was a choice made or a rating given, so its keyboard goes."""
    return Press(lambda s, me, b: s.perform(me, action, b.ref, department=b.value or "",
                                            value=b.value or ""),
                 lambda view, t: render.action_done(view, action, t),
                 clears_keyboard=not RULES[action].on_card)


# One-press buttons that are not actions on a case.
PRESSES: dict[str, Press] = {
    # /start's "which department do you work in?" (not the "me too" action, Action.JOIN):
    # posted buttons carry the name "join", so it stays.
    "join": Press(lambda s, me, b: s.choose_department(me, b.value or ""),
                  lambda person, t: text_message(t.gettext("Your department: %(slug)s.") % {
                      "slug": person.department}), clears_keyboard=True),
    "lang": Press(lambda s, me, b: s.set_locale(me, b.value or ""),
                  lambda person, t: text_message(t.gettext("Language set.")),
                  clears_keyboard=True),
    "score": Press(lambda s, me, b: s.record_score(me, b.value or ""), render.score_reply,
                   clears_keyboard=True),
    # Internal NPS pulses: a 0-10 keypad like the rating.
    "pulse": Press(lambda s, me, b: s.answer_pulse(me, b.ref, b.value or ""),
                   render.pulse_thanks, clears_keyboard=True),
    # "This customer's story" on a card: the story, the card keeps its buttons.
    render.STORY: Press(lambda s, me, b: s.customer_story(me, f"#{b.value or ''}"),
                        story_reply),
}


def press_of(action: str) -> Press | None:
    """What pressing a button of `action` does; None for a button of an older version. The
    actions that need a sentence first are asked for it by notes.py."""
    rule = rule_of(action)
    if rule is not None:
        return _case_press(action) if rule.note_prompt is None else None
    return PRESSES.get(action)


async def on_button(update: Update, context: Context) -> None:
    """A one-press button: one core call; the confirmation in the sender's language."""
    query = update.callback_query
    assert query is not None and query.data is not None
    me, t = await whoami(update, context)
    button = decode(query.data)
    rule = rule_of(button.action)
    if button.value is None and rule is not None and rule.needs_department:
        await offer_departments(update, context, button)
        return
    press = press_of(button.action)
    if press is None:  # a button of an older version of the bot
        await query.answer(t.gettext("This button no longer works."), show_alert=True)
        return
    result = await asyncio.to_thread(press.call, voc(context).service, me, button)
    if button.action in ("lang", "join"):
        voc(context).people.remember(query.from_user.id, (query.from_user.full_name,
                                                          query.from_user.language_code), result)
        _me, t = await whoami(update, context)
    done = press.done(result, t)
    await query.answer(done.title[:200])  # callback queries must always be answered
    if press.clears_keyboard:
        await query.edit_message_reply_markup(None)
    if update.effective_chat and update.effective_chat.type == "private":
        await reply(update, done)
    elif button.action == render.STORY:  # a group would show it to all: to the presser alone
        await private(context, query.from_user.id, done)


async def offer_departments(update: Update, context: Context, button: Button) -> None:
    """An action that moves a case (Reassign, Change department): the departments as
    buttons, once the core allows it."""
    query = update.callback_query
    assert query is not None
    me, t = await whoami(update, context)
    service = voc(context).service
    signal = await asyncio.to_thread(service.check, me, button.ref, button.action)
    departments = await asyncio.to_thread(service.departments)
    choices = tuple(Button(button.action, button.ref, t.department(d.slug, d.name),
                          value=d.slug)
                    for d in departments if d.slug != signal.department.slug)
    await query.answer()
    prompt = RULES[button.action].department_prompt
    assert prompt is not None
    question = t.gettext(prompt) % {"ref": button.ref}
    await reply(update, text_message(question, choices))


async def on_start(update: Update, context: Context) -> None:
    """/start: register the person; ask their department if the departments file does not."""
    _me, t = await whoami(update, context)
    user = update.effective_user
    assert user is not None
    person = await voc(context).people.of(user)
    if person.department is not None:
        await reply(update, OutboundMessage(
            title=t.gettext("Hello, %(name)s!") % {"name": person.display_name},
            footer=(t.gettext(HELP),)))
        return
    departments = await asyncio.to_thread(voc(context).service.departments)
    await reply(update, text_message(
        t.gettext("Hello, %(name)s! Which department do you work in?") % {
            "name": person.display_name},
        tuple(Button("join", "", t.department(d.slug, d.name), value=d.slug)
              for d in departments)))


async def on_help(update: Update, context: Context) -> None:
    """/help: the commands."""
    _me, t = await whoami(update, context)
    await reply(update, text_message(t.gettext(HELP)))


async def on_lang(update: Update, context: Context) -> None:
    """/lang [en|ru|zh]: switch language, or offer the languages as buttons."""
    me, t = await whoami(update, context)
    if not context.args:
        await reply(update, text_message(t.gettext("Choose your language:"), tuple(
            Button("lang", "", LANGUAGE_NAMES[code], value=code) for code in SUPPORTED_LOCALES)))
        return
    person = await asyncio.to_thread(voc(context).service.set_locale, me, context.args[0])
    user = update.effective_user
    assert user is not None
    voc(context).people.remember(user.id, (user.full_name, user.language_code), person)
    await reply(update, text_message(voc(context).service.translator(person.locale).gettext(
        "Language set.")))


async def on_mine(update: Update, context: Context) -> None:
    """/mine: the sender's reports and their status."""
    me, t = await whoami(update, context)
    mine = await asyncio.to_thread(voc(context).service.mine, me)
    await reply(update, render.mine_reply(mine, t))


async def on_queue(update: Update, context: Context) -> None:
    """/queue [DEPARTMENT]: a department's open items, overdue first."""
    me, t = await whoami(update, context)
    department = context.args[0] if context.args else None
    queue = await asyncio.to_thread(voc(context).service.queue, me, department)
    await reply(update, render.queue_reply(queue, t))


async def on_score(update: Update, context: Context) -> None:
    """/score N [COMMENT]: a customer's 0-10 answer; without N, a keypad."""
    me, t = await whoami(update, context)
    if not context.args:
        await reply(update, text_message(t.gettext("Customer's score 0-10 (optional): "),
                                         tuple(Button("score", "", str(v), value=str(v))
                                               for v in range(11))))
        return
    comment = " ".join(context.args[1:]) or None
    message = update.effective_message
    score = await asyncio.to_thread(
        voc(context).service.record_score, me, context.args[0], comment=comment,
        dedupe_key=dedupe_key(message) if message else None)
    await reply(update, render.score_reply(score, t))


async def on_digest(update: Update, context: Context) -> None:
    """/digest [YYYY-Www]: the digest preview; the core decides who may see which."""
    me, _t = await whoami(update, context)
    week = context.args[0] if context.args else None
    await reply(update, await asyncio.to_thread(voc(context).service.digest_preview, me, week))


async def on_customer(update: Update, context: Context) -> None:
    """/customer NAME: the customer's story across departments."""
    me, t = await whoami(update, context)
    message = update.effective_message
    text = (message.text or "").partition(" ")[2] if message else ""  # quotes kept
    result = await asyncio.to_thread(voc(context).service.customer, me, text)
    await reply(update, customer_reply(result, t))
