"""Parsing and limits for everything people type. Each refusal says what to do instead."""

from __future__ import annotations

import re
import unicodedata

from bot.core.shared.domain import MAX_NOTE, MAX_TEXT, Kind
from bot.core.shared.errors import InvalidInput
from bot.core.shared.i18n import N_

KIND_ALIASES = {
    "complaint": Kind.COMPLAINT, "praise": Kind.PRAISE, "idea": Kind.IDEA,
    "жалоба": Kind.COMPLAINT, "похвала": Kind.PRAISE, "идея": Kind.IDEA,
    "投诉": Kind.COMPLAINT, "表扬": Kind.PRAISE, "建议": Kind.IDEA,
}
_REF_RE = re.compile(r"^\s*(?:voc-?)?(\d{1,12})\s*$", re.IGNORECASE)


_UNWRITABLE = {"Cc", "Cs"}  # control characters; lone surrogates (no UTF-8 for them)
_NONCHARACTERS = {"\ufffe", "\uffff"}  # refused by XML, so by every workbook


def strip_controls(value: str) -> str:
    """Drop control characters other than newline and tab (PostgreSQL refuses NUL in text),
    lone surrogates (a JSON `\\ud800` no database can store) and the noncharacters
    U+FFFE/U+FFFF."""
    return "".join(c for c in value if c in "\n\t" or (
        unicodedata.category(c) not in _UNWRITABLE and c not in _NONCHARACTERS)).strip()


def parse_kind(value: str) -> Kind:
    """complaint | praise | idea (also in Russian and Chinese)."""
    kind = KIND_ALIASES.get(value.strip().lower())
    if kind is None:
        raise InvalidInput(N_("“%(value)s” is not a kind of signal: use complaint, praise or "
                              "idea."),
                           value=value.strip()[:40]).at("kind")
    return kind


def signal_text(value: str | None) -> str:
    """The signal's text: 1 to 4000 characters after trimming."""
    text = strip_controls(value or "")
    if not text:
        raise InvalidInput(N_("The text is empty: write what the customer said.")).at("text")
    if len(text) > MAX_TEXT:
        raise InvalidInput(N_("The text is %(length)d characters long; the limit is %(limit)d. "
                              "Shorten it or split it into two reports."),
                           length=len(text), limit=MAX_TEXT).at("text")
    return text


def required_note(value: str | None, *, what: str) -> str:
    """A resolution note, a reason, a question or an answer: required, at most 2000
    characters."""
    text = strip_controls(value or "")
    if not text:
        if what == "note":
            raise InvalidInput(N_("A resolution note is required: say what was done.")).at("note")
        if what == "question":
            raise InvalidInput(N_("The question is empty: write what you want to ask the "
                                  "reporter.")).at("note")
        if what == "answer":
            raise InvalidInput(N_("The answer is empty: write your answer to the question."
                                  )).at("note")
        raise InvalidInput(N_("A reason is required: say why.")).at("note")
    if len(text) > MAX_NOTE:
        raise InvalidInput(N_("That is %(length)d characters long; the limit is %(limit)d."),
                           length=len(text), limit=MAX_NOTE).at("note")
    return text


def optional_text(value: str | None, limit: int) -> str | None:
    """An optional short field (customer name, link): None when blank."""
    text = strip_controls(value or "")
    if not text:
        return None
    if len(text) > limit:
        raise InvalidInput(N_("That is %(length)d characters long; the limit is %(limit)d."),
                           length=len(text), limit=limit)
    return text


def parse_score(value: int | str | None) -> int:
    """A 0-10 score given as digits: "7" and " 10 " pass; 11, -1, 7.5 and "ten" are refused."""
    typed = "" if value is None else str(value).strip()
    if isinstance(value, str) and typed.isdecimal() and typed.isascii():
        value = int(typed)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise InvalidInput(N_("A score is a whole number from 0 to 10; “%(value)s” is not."),
                           value=typed[:20] or "?").at("score")
    return value


def parse_ref(value: str) -> int:
    """VOC-12, voc-12, VOC12 or 12 -> 12."""
    match = _REF_RE.match(value or "")
    if not match:
        raise InvalidInput(N_("“%(value)s” is not a reference like VOC-12."),
                           value=(value or "").strip()[:40])
    return int(match.group(1))
