"""Telegram conventions: command menus by scope in English, Russian and
Chinese, the bot's descriptions, and reactions on the reporter's own message when the case is
acknowledged and resolved; against the fake Bot API, on both databases."""

from __future__ import annotations

from tests.adapters.test_telegram_flows import ANNA, ELENA, LOGISTICS, OLGA, Bot

LANGUAGES = ("", "ru", "zh")  # "": no language_code, the default (English)


def commands(bot: Bot, scope: str, language: str) -> list[str]:
    return [name for name, _ in bot.fake.menus[(scope, language)]]


def test_everyone_gets_the_reporters_menu_in_three_languages(bot: Bot) -> None:
    for language in LANGUAGES:
        assert commands(bot, "default", language)[:3] == ["complaint", "praise", "idea"]
        assert "queue" not in commands(bot, "default", language)
    described = {lang: dict(bot.fake.menus[("default", lang)])["complaint"]
                 for lang in LANGUAGES}
    assert described[""] == "Report a customer's complaint"
    assert described["ru"] != described[""] and described["zh"] != described[""]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in described["zh"])  # Chinese, not a copy


def test_heads_get_queue_first_and_leadership_digest_first(bot: Bot) -> None:
    for language in LANGUAGES:
        assert commands(bot, f"chat:{OLGA.id}", language)[0] == "queue"  # head of Logistics
        assert commands(bot, f"chat:{ELENA.id}", language)[0] == "digest"  # leadership
        assert commands(bot, f"chat:{LOGISTICS}", language) == ["queue", "help"]  # its group
        assert commands(bot, "chat:-1001000", language) == ["digest", "help"]  # leaders' group
    assert ("chat:2001", "") not in bot.fake.menus  # Anna reports; the default menu is hers


def test_the_bot_describes_itself_in_three_languages(bot: Bot) -> None:
    for language in LANGUAGES:
        about = bot.fake.descriptions[("description", language)]
        short = bot.fake.descriptions[("short_description", language)]
        assert "/complaint" in about and 0 < len(short) <= 120
    assert bot.fake.descriptions[("short_description", "")] == (
        "Report what customers say, and follow it until it is resolved.")
    assert bot.fake.descriptions[("short_description", "ru")].startswith("Сообщайте")


def test_the_reporters_message_gets_a_reaction_when_acknowledged_then_resolved(
        bot: Bot) -> None:
    report = bot.say(ANNA, "/complaint Курьер опоздал на три часа")
    message_id = report["message"]["message_id"]
    bot.fake.expect(ANNA.id, r"VOC-1")
    card = bot.fake.expect(LOGISTICS, r"VOC-1")
    assert bot.fake.reactions_on(ANNA.id, message_id) == []
    bot.press(OLGA, card, "Принять в работу")
    bot.fake.wait(lambda: bot.fake.reactions_on(ANNA.id, message_id) == ["👀"],
                  what="👀 on Anna's report")
    bot.service.resolve(f"telegram:{OLGA.id}", "VOC-1", "Извинились, скидка 10%")
    bot.fake.wait(lambda: bot.fake.reactions_on(ANNA.id, message_id) == ["👌"],
                  what="👌 on Anna's report")


def test_a_reaction_that_telegram_refuses_costs_nothing(bot: Bot) -> None:
    report = bot.say(ANNA, "/complaint Курьер нагрубил")
    card = bot.fake.expect(LOGISTICS, r"VOC-1")
    bot.fake.fail("setMessageReaction", 400, "Bad Request: message to react not found")
    bot.press(OLGA, card, "Принять в работу")
    bot.fake.expect(ANNA.id, r"VOC-1.*(принята|Ольга)")  # the note still reaches Anna
    bot.fake.wait(lambda: bot.fake.calls_of("setMessageReaction"), what="the attempt")
    # Best effort: the row is done (not dead, no alert), and nothing was marked.
    bot.fake.wait(lambda: [r.status for r in bot.outbox() if r.operation == "react"] == [
        "sent"], what="the reaction's row settled")
    assert bot.fake.reactions_on(ANNA.id, report["message"]["message_id"]) == []
