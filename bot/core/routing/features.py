"""What the learned routing reads in a text (word stems and character n-grams) and a past
case it learns from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.core.routing import chinese
from bot.core.routing.keywords import STOP_WORDS, stem, tokenize

GRAM_WEIGHT = 0.25  # a character n-gram weighs this much of a word (a word has several)

_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Character n-grams of Russian words are taken from their Latin spelling, so that names written
# in either alphabet meet: "Коммунарка" and "Kommunarka", "Берген" and "Bergen", "Химки" and
# "Khimki" share most of their n-grams (Russian words still only meet Russian words otherwise).
_LATIN_SPELLING = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya"})


def features(text: str) -> tuple[list[str], list[str], dict[str, str]]:
    """(word stems, character n-grams, stem -> the text's word) of a text."""
    words: list[str] = []
    surface: dict[str, str] = {}
    grams: list[str] = []
    for token in tokenize(text):
        # Order numbers say nothing; a code of letters and a short number ("AUTUMN15",
        # "PAX300") names a thing.
        if token in STOP_WORDS or (_DIGIT.search(token) and (
                len(_LETTER.findall(token)) < 3 or len(_DIGIT.findall(token)) > 3)):
            continue
        han = chinese.has_han(token)
        if len(token) < 2 and not han:
            continue
        s = stem(token)
        words.append(s)
        surface.setdefault(s, token)
        if not han and len(token) >= 4:
            padded = f"<{token.translate(_LATIN_SPELLING)}>"
            grams.extend(["#" + padded[i:i + 3] for i in range(len(padded) - 2)])
    for run in _HAN_RUN.findall(text):
        grams.extend("#" + run[i:i + 2] for i in range(len(run) - 1))
    return words, grams, surface


@dataclass(frozen=True)
class Case:
    """A past case: its reference, text, the department that finally owned it, and when."""

    id: int
    text: str
    label: str
    at: datetime


def feature_weights(vocabulary: dict[str, int], words: list[str], grams: list[str]
                    ) -> dict[int, float]:
    """A text's known features as feature index -> count (a character n-gram counts
    GRAM_WEIGHT of a word)."""
    out: dict[int, float] = {}
    for s in words:
        if (i := vocabulary.get(s)) is not None:
            out[i] = out.get(i, 0.0) + 1.0
    for g in grams:
        if (i := vocabulary.get(g)) is not None:
            out[i] = out.get(i, 0.0) + GRAM_WEIGHT
    return out


