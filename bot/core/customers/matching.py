"""Whether two customer texts name the same customer: surely (join the account), perhaps (ask
the person who wrote it), or not (a new account).

Rules, in order:
- the same key (case, spacing, punctuation, quotes, legal form and alphabet aside) is the same
  customer; a text that is only a legal form ("ООО") names nobody;
- Chinese compares with Chinese only: equal cores are the same customer; one core inside the
  other (腾讯 / 腾讯音乐), or one character apart, is asked; a Chinese and a Latin or Cyrillic
  name need an alias that joins them;
- one name being the other plus whole words ("Hooli" / "Hooli XYZ", "ВТБ" / "ВТБ Лизинг") is
  asked, never joined: a division, a subsidiary and a stranger sharing a brand read alike, and
  only a person knows which; the same with a changed word too ("Pied Piper" / "Pied Pipes
  Logistics") is a different customer;
- otherwise a similarity from 0 to 1: rapidfuzz's ratio of the keys blended with the ratio of
  the sound skeletons (`names`; weighed more across alphabets); from `Thresholds.same_at` the
  same customer if what differs looks like a slip (`_slips_only`), from `ask_at` asked. A
  name shorter than `MIN_FUZZY_LENGTH` letters is joined only when equal: one letter is a
  different company there (МТС / МТТ, IBM / IBN).
The thresholds come from bench/customers.py (it prints how they were chosen).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz

from bot.core.customers.names import CustomerName

MIN_FUZZY_LENGTH = 5  # letters in the shorter key for a join that is not exact
LONG_WORD = 7  # letters from which a word may differ by a consonant and still be a slip
LONG_WORD_RATIO = 85  # how alike such words must be written (rapidfuzz ratio, 0-100)
MIN_SHARED_LENGTH = 3  # letters a name must have for "the other plus words" to be asked


@dataclass(frozen=True)
class Thresholds:
    """Where similarity turns into a verdict (bench/customers.py chose these)."""

    same_at: float = 0.81  # joined without asking from here
    ask_at: float = 0.64  # the reporter is asked from here
    sound_weight: float = 0.7  # share of the sound skeleton across alphabets
    sound_weight_same: float = 0.2  # and in one alphabet


CHOSEN = Thresholds()


class Verdict(StrEnum):
    """What to do with a customer text compared with an account's name."""

    SAME = "same"  # join the account
    ASK = "ask"  # ask the reporter: "Pied Piper (5 reports) — the same customer?"
    NEW = "new"  # a customer of its own


@dataclass(frozen=True)
class Comparison:
    """A verdict, the similarity behind it (0-1) and why, for logs and the bench."""

    verdict: Verdict
    similarity: float
    reason: str


def compare(a: CustomerName, b: CustomerName, limits: Thresholds = CHOSEN) -> Comparison:
    """Whether `a` and `b` name the same customer."""
    if not a.key or not b.key:
        return Comparison(Verdict.NEW, 0.0, "no name")
    if a.key == b.key:
        return Comparison(Verdict.SAME, 1.0, "equal")
    if a.is_chinese or b.is_chinese:
        return _compare_chinese(a, b, limits)
    shorter, longer = sorted((a, b), key=lambda name: len(name.key))
    if _plus_words(shorter, longer):
        verdict = Verdict.ASK if len(shorter.key) >= MIN_SHARED_LENGTH else Verdict.NEW
        return Comparison(verdict, similarity(a, b, limits), "plus words")
    score = similarity(a, b, limits)
    if score >= limits.same_at and _slips_only(a, b):
        return Comparison(Verdict.SAME, score, "similar")
    if score >= limits.ask_at:
        return Comparison(Verdict.ASK, score, "perhaps")
    return Comparison(Verdict.NEW, score, "different")


def similarity(a: CustomerName, b: CustomerName, limits: Thresholds = CHOSEN) -> float:
    """0-1: how alike two names are written, and across alphabets how alike they sound."""
    written = fuzz.ratio(a.key, b.key) / 100
    sound = fuzz.ratio(" ".join(a.skeleton), " ".join(b.skeleton)) / 100
    weight = (limits.sound_weight_same if _same_alphabet(a, b) else limits.sound_weight)
    return max(written, weight * sound + (1 - weight) * written)


def _same_alphabet(a: CustomerName, b: CustomerName) -> bool:
    return ("cyrillic" in a.scripts) == ("cyrillic" in b.scripts)


def _slips_only(a: CustomerName, b: CustomerName) -> bool:
    """Whether what differs looks like a slip of the keyboard or of transliteration rather than
    another name: each word (or the whole name, when the words do not pair up) sounds the same
    consonants, or is long and differs by a letter or two inside. In one alphabet, every word
    starts with the same letter (Massive / Passive) and a short word keeps its vowels (Vector /
    Victor); across alphabets a short name keeps them too (Hooli: Хули, not Холли). A name
    shorter than MIN_FUZZY_LENGTH letters is joined only when equal (МТС / МТТ, IBM / IBN)."""
    same_alphabet = _same_alphabet(a, b)
    shortest = min(len(a.key), len(b.key))
    vowels_kept = "".join(a.voiced) == "".join(b.voiced)
    if shortest < MIN_FUZZY_LENGTH and (same_alphabet or not vowels_kept):
        return False
    if (not same_alphabet and shortest < LONG_WORD and not vowels_kept
            and fuzz.ratio(a.key, b.key) < LONG_WORD_RATIO):
        return False
    if len(a.latin) == len(b.latin):
        words = list(zip(a.latin, b.latin, a.skeleton, b.skeleton, a.voiced, b.voiced,
                         strict=True))
    else:
        words = [(a.key, b.key, "".join(a.skeleton), "".join(b.skeleton), "".join(a.voiced),
                  "".join(b.voiced))]
    for word, other, sound, other_sound, voiced, other_voiced in words:
        short = min(len(word), len(other)) < LONG_WORD
        if same_alphabet and word[0] != other[0]:
            return False
        if sound.replace("V", "") == other_sound.replace("V", ""):
            if (same_alphabet and short and len(word) == len(other)
                    and voiced != other_voiced):
                return False  # a changed vowel in a short word: another word
            continue
        if short or word[-1] != other[-1] or fuzz.ratio(word, other) < LONG_WORD_RATIO:
            return False  # a changed last letter makes another word (Oceanic / Oceania)
    return True


def _plus_words(shorter: CustomerName, longer: CustomerName) -> bool:
    """Whether `longer` is `shorter` with more words: every word of the shorter name is in the
    longer one (spelt or sounding the same), or its key begins or ends the longer key."""
    if len(longer.key) - len(shorter.key) < 2:
        return False
    if longer.key.startswith(shorter.key) or longer.key.endswith(shorter.key):
        return True
    longer_words = list(zip(longer.latin, longer.skeleton, strict=True))
    return len(longer.latin) > len(shorter.latin) and all(
        any(word == other or sound == other_sound for other, other_sound in longer_words)
        for word, sound in zip(shorter.latin, shorter.skeleton, strict=True))


def _compare_chinese(a: CustomerName, b: CustomerName, limits: Thresholds) -> Comparison:
    if not (a.is_chinese and b.is_chinese):
        return Comparison(Verdict.NEW, 0.0, "different alphabets")
    score = fuzz.ratio(a.key, b.key) / 100
    if a.key in b.key or b.key in a.key:
        return Comparison(Verdict.ASK, score, "plus words")
    if score >= limits.ask_at:
        return Comparison(Verdict.ASK, score, "perhaps")
    return Comparison(Verdict.NEW, score, "different")


@dataclass(frozen=True)
class Match:
    """The account a customer text belongs to, or may belong to, and how sure that is."""

    verdict: Verdict
    account_id: int | None  # None: no account names it (yet)
    alias: str  # the account's name it was compared with ("" without an account)
    similarity: float


NO_MATCH = Match(Verdict.NEW, None, "", 0.0)


def best_match(name: CustomerName, candidates: Iterable[tuple[int, CustomerName]]) -> Match:
    """The account among `candidates` ((account id, one of its names)) that `name` belongs to.
    Two accounts that both match surely are asked about (the best first): one of them is a
    duplicate that a head should merge."""
    ranked: list[tuple[int, float, int, str]] = []
    for account_id, alias in candidates:
        found = compare(name, alias)
        if found.verdict is not Verdict.NEW:
            rank = 2 if found.verdict is Verdict.SAME else 1
            ranked.append((rank, found.similarity, account_id, alias.text))
    if not ranked:
        return NO_MATCH
    ranked.sort(reverse=True)
    rank, score, account_id, alias_text = ranked[0]
    sure_accounts = {account for r, _, account, _ in ranked if r == 2}
    verdict = Verdict.SAME if rank == 2 and len(sure_accounts) == 1 else Verdict.ASK
    return Match(verdict, account_id, alias_text, score)
