"""Telegram's command menus, bot descriptions and reactions, by scope and language.

Telegram shows the menu of the narrowest scope that has one, in the user's app language if one
was set for it (core.telegram.org/bots/features#commands). So: everyone gets the reporter's
menu; each head, in their private chat with the bot, a menu with /queue first; leadership one
with /digest first; department groups /queue and the leadership group /digest. Every menu and
the descriptions exist in English (the default), Russian and Chinese.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram import error as tg

from bot.core.service import VocService
from bot.core.shared.company import Company
from bot.core.shared.i18n import N_, Translator
from bot.core.shared.platforms import TELEGRAM

log = logging.getLogger(__name__)
LANGUAGES = ("en", "ru", "zh")
DESCRIPTIONS = {
    "complaint": N_("Report a customer's complaint"),
    "praise": N_("Report a customer's praise"),
    "idea": N_("Report a customer's idea"),
    "score": N_("Record a customer's 0-10 score"),
    "mine": N_("Your reports and their status"),
    "queue": N_("Your department's open items"),
    "digest": N_("The weekly digest"),
    "lang": N_("Change your language"),
    "help": N_("What this bot can do"),
    "cancel": N_("Stop the current question"),
}
REPORTER = ("complaint", "praise", "idea", "score", "mine", "lang", "help", "cancel")
HEAD = ("queue", "complaint", "praise", "idea", "score", "mine", "lang", "help", "cancel")
LEADERSHIP = ("digest", "queue", "complaint", "praise", "idea", "score", "mine", "lang", "help",
              "cancel")
DEPARTMENT_GROUP = ("queue", "help")
LEADERSHIP_GROUP = ("digest", "help")
ABOUT = N_("I carry what customers say to the department that can act on it. Report a "
           "complaint, praise or idea with /complaint, /praise or /idea, or forward me a "
           "customer's message; you hear back when it is acknowledged and resolved.")
SHORT_ABOUT = N_("Report what customers say, and follow it until it is resolved.")
# Reactions on the reporter's own message: seen by the department, then resolved.
REACTIONS = {"acknowledged": "👀", "resolved": "👌"}


def menu(names: tuple[str, ...], t: Translator) -> list[BotCommand]:
    """The commands `names`, described in `t`'s language."""
    return [BotCommand(name, t.gettext(DESCRIPTIONS[name])) for name in names]


def chat_menus(company: Company) -> dict[int, tuple[str, ...]]:
    """Chat id -> its menu: heads' and leaders' private chats, department and leadership
    groups (a leader who is also a head gets the leadership menu)."""
    menus: dict[int, tuple[str, ...]] = {}
    for department in company.departments:
        if (group := TELEGRAM.chat_id(department.addresses)) is not None:
            menus[group] = DEPARTMENT_GROUP
        for head in _telegram_ids(department.heads):
            menus[head] = HEAD
    for leader in _telegram_ids(company.leadership):
        menus[leader] = LEADERSHIP
    if (group := TELEGRAM.chat_id(company.leadership_addresses)) is not None:
        menus[group] = LEADERSHIP_GROUP
    return menus


def _telegram_ids(identities: tuple[str, ...]) -> list[int]:
    return [int(i.removeprefix("telegram:")) for i in identities if i.startswith("telegram:")]


async def register_menus(bot: Bot, service: VocService) -> None:
    """Menus and descriptions in every language. A chat Telegram does not know yet (a head who
    never opened the bot) is skipped with a log line; the default menu still reaches them."""
    for language in LANGUAGES:
        t = service.translator(language)
        code = None if language == "en" else language
        await bot.set_my_commands(menu(REPORTER, t), scope=BotCommandScopeDefault(),
                                  language_code=code)
        await bot.set_my_description(t.gettext(ABOUT), language_code=code)
        await bot.set_my_short_description(t.gettext(SHORT_ABOUT), language_code=code)
    for chat_id, names in chat_menus(service.company).items():
        try:
            for language in LANGUAGES:
                await bot.set_my_commands(
                    menu(names, service.translator(language)),
                    scope=BotCommandScopeChat(chat_id),
                    language_code=None if language == "en" else language)
        except (tg.BadRequest, tg.Forbidden) as exc:
            log.info("no command menu for Telegram chat %s yet (%s)", chat_id, exc.message)
