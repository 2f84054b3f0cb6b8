"""Catalogs: every marked string is translated in every language, with the same placeholders."""

from __future__ import annotations

import configparser
import gettext
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.dates import format_skeleton, get_timezone_location
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.core.presentation import dates as calendar
from bot.core.shared.i18n import DOMAIN, LOCALE_DIR, SUPPORTED_LOCALES, Translator, normalise_locale

ROOT = Path(__file__).resolve().parents[2]
BABEL_CFG = ROOT / "babel.cfg"
TRANSLATED = tuple(locale for locale in SUPPORTED_LOCALES if locale != "en")
# The same keywords as the `pybabel extract` command (`-k N_ -k ngettext:1,2`).
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "ngettext": (1, 2)}
UPDATE_COMMANDS = """\
pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 -o bot/locale/voc.pot \
--no-location --sort-output --no-wrap --project voc-bot --version 0.1.0 \
--copyright-holder "voc-bot contributors" .
pybabel update -i bot/locale/voc.pot -d bot/locale -D voc --no-wrap --no-fuzzy-matching \
--ignore-obsolete
pybabel compile -d bot/locale -D voc   (after translating: the .mo files the bot reads)
python -m bot.core.presentation.dates   (after a Babel upgrade: month and time-zone names)
then translate the new or emptied entries in bot/locale/*/LC_MESSAGES/voc.po"""

# %(name)s, %(n)d, %(value)-5.2f ...: the name and the conversion must survive translation.
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0\- +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa])")
SCRIPTS = {
    "ru": re.compile(r"[\u0400-\u04FF]"),  # Cyrillic
    "zh": re.compile(r"[\u4E00-\u9FFF]"),  # CJK Unified Ideographs
}

MsgId = str | tuple[str, str]


def method_map() -> list[tuple[str, str]]:
    """`[python: bot/**.py]` sections of babel.cfg as Babel's (pattern, method) pairs."""
    parser = configparser.RawConfigParser()
    parser.read(BABEL_CFG, encoding="utf-8")
    pairs = []
    for section in parser.sections():
        method, _, pattern = section.partition(":")
        pairs.append((pattern.strip(), method.strip()))
    return pairs


@cache
def extracted() -> dict[MsgId, list[str]]:
    """Every marked message in the source tree, with where it is marked."""
    found: dict[MsgId, list[str]] = {}
    pairs = method_map()
    for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT, pairs, {pattern: {} for pattern, _ in pairs}, KEYWORDS):
        if isinstance(message, tuple):
            message = (message[0], message[1])
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


@cache
def catalog(locale: str) -> Catalog:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def entries(locale: str) -> Iterator[Message]:
    """The catalog's messages, header left out."""
    return (message for message in catalog(locale) if message.id)


def forms(message: Message) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, (list, tuple)) else (string,)


def placeholders(text: str) -> set[tuple[str, str]]:
    return set(PLACEHOLDER.findall(text))


def plain_msgids() -> list[str]:
    """Singular messages without placeholders, which a translator can return as they are."""
    return sorted(m for m in extracted() if isinstance(m, str) and "%" not in m)


# -- the source and the catalogs agree ----------------------------------------------------
def test_babel_cfg_covers_the_application_packages() -> None:
    patterns = {pattern for pattern, _ in method_map()}
    assert patterns == {"bot/**.py", "handlers/**.py", "jobs/**.py"}
    locations = [where for places in extracted().values() for where in places]
    assert any(where.startswith("handlers/") for where in locations)
    assert not any(where.startswith(("tests/", ".venv/")) for where in locations)


def test_extraction_sees_every_marking_form() -> None:
    """Method calls, N_, ngettext and implicitly concatenated or triple-quoted strings."""
    messages = extracted()
    plurals = [m for m in messages if isinstance(m, tuple)]
    sources = [p for d in ("bot", "handlers", "jobs") for p in (ROOT / d).rglob("*.py")
               if p.name != "i18n.py"]
    uses_plurals = any(".ngettext(" in p.read_text(encoding="utf-8") for p in sources)
    assert bool(plurals) == uses_plurals, "t.ngettext(...) calls and extracted plurals differ"
    assert any("\n" in m for m in messages if isinstance(m, str)), "console HELP not extracted"
    assert len(messages) > 50, f"only {len(messages)} messages extracted: is babel.cfg right?"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_parses_with_the_locale_plural_rule(locale: str) -> None:
    translations = catalog(locale)
    assert not translations.fuzzy, f"{locale}: the catalog header is marked fuzzy"
    expected = get_plural(locale)
    assert translations.num_plurals == expected.num_plurals
    # Compared by what the rules choose, not as text: Babel releases spell them differently.
    chosen, wanted = (gettext.c2py(expr) for expr in (translations.plural_expr,
                                                       expected.plural_expr))
    assert [chosen(n) for n in range(1000)] == [wanted(n) for n in range(1000)]
    for message in entries(locale):
        if message.pluralizable:
            assert len(forms(message)) == translations.num_plurals, message.id


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_marked_message_is_translated(locale: str) -> None:
    translations = catalog(locale)
    problems = []
    for msgid, places in sorted(extracted().items(), key=lambda item: str(item[0])):
        message = translations.get(msgid)
        if message is None:
            problem = "missing"
        elif message.fuzzy:
            problem = "fuzzy"
        elif isinstance(msgid, tuple) != message.pluralizable:
            problem = "singular/plural mismatch"
        elif not all(form.strip() for form in forms(message)):
            problem = "untranslated"
        else:
            continue
        problems.append(f"  {problem}: {msgid!r} ({', '.join(places)})")
    assert not problems, (
        f"{len(problems)} message(s) not translated in {locale}:\n" + "\n".join(problems)
        + f"\nUpdate the catalogs from the repo root:\n{UPDATE_COMMANDS}")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalog_the_bot_reads_matches_its_po(locale: str) -> None:
    """The bot reads voc.mo: a translation edited in the .po and not compiled would never be
    seen by a user."""
    compiled = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    assert compiled.exists(), (f"{locale}: no {DOMAIN}.mo, the bot would speak English; "
                               "compile it:\n  pybabel compile -d bot/locale -D voc")
    with compiled.open("rb") as handle:
        shipped = gettext.GNUTranslations(handle)
    buffer = BytesIO()  # the .po compiled as `pybabel compile` does (fuzzy entries left out)
    write_mo(buffer, catalog(locale), use_fuzzy=False)
    buffer.seek(0)
    fresh = gettext.GNUTranslations(buffer)
    stale = sorted(str(key) for key in shipped._catalog.keys() | fresh._catalog.keys()
                   if shipped._catalog.get(key) != fresh._catalog.get(key))
    assert not stale, (f"{locale}: voc.mo differs from voc.po in {len(stale)} entries, e.g. "
                       f"{stale[:3]}; compile it:\n  pybabel compile -d bot/locale -D voc")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_no_fuzzy_or_empty_entries(locale: str) -> None:
    bad = [message.id for message in entries(locale)
           if message.fuzzy or not all(form.strip() for form in forms(message))]
    assert not bad, (f"{locale}: fuzzy or empty entries, translate them:\n"
                     + "\n".join(f"  {msgid!r}" for msgid in bad)
                     + f"\nor drop stale ones with:\n{UPDATE_COMMANDS}")


class _Anything(dict[str, int]):
    def __missing__(self, key: str) -> int:
        return 1


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_the_placeholders(locale: str) -> None:
    wrong = []
    for message in entries(locale):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        expected = set().union(*(placeholders(text) for text in ids))
        for index, form in enumerate(forms(message)):
            if placeholders(form) != expected:
                wrong.append(f"  {ids[0]!r} [{index}]: {sorted(placeholders(form))} "
                             f"!= {sorted(expected)}")
            elif expected:
                try:
                    form % _Anything()
                except (ValueError, TypeError) as error:  # a stray % in the translation
                    wrong.append(f"  {ids[0]!r} [{index}]: {error}")
    assert not wrong, f"{locale}: placeholders differ from the msgid:\n" + "\n".join(wrong)


# -- the translator at run time -----------------------------------------------------------
def test_russian_plural_forms() -> None:
    plural_ids = [m.id for m in entries("ru") if isinstance(m.id, tuple)]
    if not plural_ids:
        pytest.skip("no t.ngettext(...) message in the catalog")
    preferred = ("Your last %(n)d report:", "Your last %(n)d reports:")
    distinct = [i for i in plural_ids if len(set(forms(catalog("ru")[i[0]]))) == 3]
    singular, plural = preferred if preferred in plural_ids else (distinct or plural_ids)[0]
    ru = Translator("ru")

    def say(n: int) -> str:
        return ru.ngettext(singular, plural, n)

    assert len({say(1), say(2), say(5)}) == 3, [say(1), say(2), say(5)]
    # one: 1, 21, 101; few: 2-4, 22-24; many: 0, 5-20, 11-14, 25...
    assert say(21) == say(101) == say(1)
    assert say(3) == say(22) == say(2)
    assert say(0) == say(11) == say(12) == say(25) == say(5)
    assert all(SCRIPTS["ru"].search(say(n)) for n in (1, 2, 5))
    zh = Translator("zh")
    assert zh.ngettext(singular, plural, 1) == zh.ngettext(singular, plural, 5)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translator_speaks_the_language(locale: str) -> None:
    sample = plain_msgids()
    assert sample, "no message without placeholders was extracted"
    translator = Translator(locale)
    for msgid in sample[:: max(1, len(sample) // 3)][:4]:
        text = translator.gettext(msgid)
        assert text != msgid
        assert SCRIPTS[locale].search(text), f"{locale}: {msgid!r} -> {text!r}"


def test_english_is_the_source() -> None:
    en = Translator("en")
    for msgid in plain_msgids()[:5]:
        assert en.gettext(msgid) == msgid
    assert en.ngettext("%(n)d item", "%(n)d items", 1) == "%(n)d item"
    assert en.ngettext("%(n)d item", "%(n)d items", 2) == "%(n)d items"


def test_unsupported_locale_falls_back_to_english() -> None:
    msgid = plain_msgids()[0]
    assert Translator("de").locale == "en"
    assert Translator("de").gettext(msgid) == msgid


@pytest.mark.parametrize(("value", "expected"), [
    ("ru-RU", "ru"), ("ru", "ru"), ("zh_CN", "zh"), ("zh-Hans-CN", "zh"), ("en_US", "en"),
    ("EN", "en"), ("de", None), ("", None), (None, None),
])
def test_normalise_locale(value: str | None, expected: str | None) -> None:
    assert normalise_locale(value) == expected


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_calendar_table_is_what_babel_says(locale: str) -> None:
    """bot/locale/calendar.json stands in for Babel's locale data at run time; after a Babel
    upgrade this fails until `python -m bot.core.presentation.dates` writes the table again."""
    stored = json.loads(calendar.TABLE.read_text(encoding="utf-8"))[locale]
    babel_locale = Locale.parse(locale)
    assert stored == calendar.build()[locale] | {"zones": stored["zones"]}
    for day in (date(2026, month, 3) for month in range(1, 13)):
        assert calendar.day_month(day, locale) == format_skeleton("MMMd", day, locale=locale)
    moment = datetime(2026, 11, 25, 17, 5)
    combined = str(babel_locale.datetime_formats["short"]).format(
        format_skeleton("Hm", moment, locale=locale), format_skeleton("MMMd", moment,
                                                                      locale=locale))
    assert calendar.when(moment, locale) == combined
    assert set(stored["zones"]) >= {"Europe/Moscow", "Asia/Shanghai", "UTC", "America/New_York"}
    for zone, city in stored["zones"].items():
        assert city == get_timezone_location(ZoneInfo(zone), locale=babel_locale,
                                             return_city=True), zone


def test_due_dates_name_the_company_zone_in_the_readers_language() -> None:
    moment = datetime(2026, 5, 3, 14, 0, tzinfo=ZoneInfo("UTC"))
    assert Translator("en", "Europe/Moscow").when(moment) == "May 3, 17:00 (Moscow)"
    assert Translator("ru", "Europe/Moscow").when(moment) == "3 мая, 17:00 (Москва)"
    assert Translator("zh", "Asia/Shanghai").when(moment) == "5月3日 22:00 (上海)"
    assert Translator("ru", "Europe/Moscow").day(moment) == "3 мая"
