"""Suggest the department that owns a signal from its text, by stemmed keyword matching."""

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import snowballstemmer

KEYWORD_WEIGHT = 3.0
DESCRIPTION_WEIGHT = 1.0
PHRASE_BONUS = 1.5
# Snowball leaves related forms with different stems ("опоздал" -> "опозда", "опоздание" ->
# "опоздан", "доставили" -> "достав", "доставка" -> "доставк"); a weaker prefix match bridges them,
# only between stems long enough not to collide by accident.
PREFIX_MIN_LEN = 5
PREFIX_FACTOR = 0.75
MAX_MATCHED = 5

_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")

# fmt: off
STOP_WORDS = frozenset(
    [
        "a", "an", "and", "any", "anything", "are", "as", "at", "be", "by", "can", "do", "for",
        "from", "has", "have", "in", "into", "is", "it", "its", "no", "not", "of", "on", "or",
        "our", "that", "the", "their", "them", "they", "this", "to", "was", "were", "what", "when",
        "which", "who", "will", "with", "without", "you", "your", "all", "also", "other", "etc",
        "а", "без", "в", "во", "все", "всё", "да", "для", "до", "же", "за", "и", "из", "или", "к",
        "как", "ко", "ли", "на", "не", "нет", "ни", "но", "о", "об", "от", "по", "при", "про", "с",
        "со", "то", "у", "что", "это", "эти", "его", "её", "ее", "их", "мы", "вы", "они", "он",
        "она", "оно", "так", "также", "только", "уже",
        # Every signal is about a customer, so in a description these words tell departments
        # apart no better than "the" does.
        "customer", "customers", "client", "clients", "клиент", "клиенты", "клиентам",
        "покупатель", "покупатели",
    ]
)
# fmt: on

_local = threading.local()


class _Stemmer(Protocol):
    def stemWord(self, word: str) -> str: ...


def _stemmers() -> tuple[_Stemmer, _Stemmer]:
    """Return this thread's (russian, english) stemmers: a snowball stemmer is not thread-safe."""
    pair: tuple[_Stemmer, _Stemmer] | None = getattr(_local, "stemmers", None)
    if pair is None:
        pair = (snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english"))
        _local.stemmers = pair
    return pair


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """Stem one lowercased token with the stemmer of its script; other scripts pass through."""
    russian, english = _stemmers()
    if _CYRILLIC.search(token):
        return russian.stemWord(token)
    if _LATIN.search(token):
        return english.stemWord(token)
    return token


def tokenize(text: str) -> list[str]:
    """Lowercase, fold ё into е, split on word characters and drop digits-only tokens."""
    return [t for t in _WORD.findall(text.lower().replace("ё", "е")) if not t.isdigit()]


@dataclass(frozen=True)
class DepartmentProfile:
    """What routing needs to know about a department."""

    slug: str
    name: str
    description: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Suggestion:
    """The suggested owner of a signal and the words that made the case for it."""

    slug: str
    matched: tuple[str, ...]
    is_fallback: bool


@dataclass(frozen=True)
class _Term:
    """One keyword or description word of a department, ready to score."""

    label: str
    stems: tuple[str, ...]
    weight: float


class Router:
    """Suggests a department for a signal's text; the triage department gets what nobody claims."""

    def __init__(self, departments: Sequence[DepartmentProfile], triage_slug: str) -> None:
        """Precompute every department's stemmed vocabulary and the weight of each stem."""
        self._triage = triage_slug
        raw: list[tuple[str, list[tuple[str, tuple[str, ...], bool]]]] = []
        for dept in departments:
            raw.append((dept.slug, _vocabulary(dept)))

        # A stem or phrase several departments share says little about which one owns a signal.
        spread: dict[tuple[str, ...], int] = {}
        for _, terms in raw:
            for key in {stems for _, stems, _ in terms}:
                spread[key] = spread.get(key, 0) + 1

        self._terms: list[tuple[str, list[_Term]]] = []
        for slug, terms in raw:
            weighted = []
            for label, stems, is_keyword in terms:
                base = KEYWORD_WEIGHT if is_keyword else DESCRIPTION_WEIGHT
                if len(stems) > 1:
                    base *= PHRASE_BONUS
                weighted.append(_Term(label, stems, base / spread[stems]))
            self._terms.append((slug, weighted))
        # stem -> (department index, term index): only terms sharing a stem with the text can
        # score, so suggest() looks at those instead of every term of every department.
        self._by_stem: dict[str, list[tuple[int, int]]] = {}
        for d, (_, weighted_terms) in enumerate(self._terms):
            for k, term in enumerate(weighted_terms):
                for term_stem in set(term.stems):
                    self._by_stem.setdefault(term_stem, []).append((d, k))

        vocab = {s for _, terms in raw for _, stems, _ in terms for s in stems}
        self._vocab = frozenset(vocab)
        self._heads = frozenset(h for s in vocab for h in _heads(s))
        self._long = frozenset(s for s in vocab if len(s) >= PREFIX_MIN_LEN)
        self._prefixes: dict[str, set[str]] = {}
        for s in self._long:
            for end in range(PREFIX_MIN_LEN, len(s)):
                self._prefixes.setdefault(s[:end], set()).add(s)

    def suggest(self, text: str) -> Suggestion:
        """Return the best-scoring department, or the triage department when nothing matched."""
        strength = self._match(text)
        candidates: dict[int, set[int]] = {}
        for found in strength:
            for d, k in self._by_stem.get(found, ()):
                candidates.setdefault(d, set()).add(k)
        best_slug, best_score, best_hits = self._triage, 0.0, []
        for d, (slug, terms) in enumerate(self._terms):  # file order breaks ties, as before
            hits = []
            for order in sorted(candidates.get(d, ())):
                term = terms[order]
                factor = min((strength.get(s, 0.0) for s in term.stems), default=0.0)
                if factor:
                    hits.append((term.weight * factor, order, term.label))
            score = sum(h[0] for h in hits)
            if score > best_score:
                best_slug, best_score, best_hits = slug, score, hits
        if best_score == 0.0:
            return Suggestion(self._triage, (), True)
        best_hits.sort(key=lambda h: (-h[0], h[1]))
        return Suggestion(best_slug, _distinct(h[2] for h in best_hits), False)

    def _match(self, text: str) -> dict[str, float]:
        """Map each vocabulary stem found in the text to 1.0 (exact) or PREFIX_FACTOR."""
        found: dict[str, float] = {}
        heads = self._heads
        for token in set(tokenize(text)):
            if token[:3] not in heads and token[:2] not in heads and token[:1] not in heads:
                continue
            s = stem(token)
            if s in self._vocab:
                found[s] = 1.0
            if len(s) < PREFIX_MIN_LEN:
                continue
            related = set(self._prefixes.get(s, ()))
            related.update(s[:n] for n in range(PREFIX_MIN_LEN, len(s)) if s[:n] in self._long)
            for v in related:
                found.setdefault(v, PREFIX_FACTOR)
        return found


def _distinct(labels: Iterable[str]) -> tuple[str, ...]:
    """The reason's words, strongest first, without near-repeats ("deliver" after "delivery":
    one word of the text matched both)."""
    kept: list[str] = []
    for label in labels:
        folded = label.casefold()
        if not any(folded.startswith(k) or k.startswith(folded) for k in map(str.casefold, kept)):
            kept.append(label)
        if len(kept) == MAX_MATCHED:
            break
    return tuple(kept)


def _heads(stem: str) -> tuple[str, ...]:
    """Return the beginnings a word must have to stem to (or around) this stem.

    Stemming is the slow part of suggest, so words that cannot match are skipped. Snowball
    only rewrites endings: a stem of four letters or more starts with the word's first three,
    a shorter one with its first two, except "dying" -> "die" and its kin.
    """
    if len(stem) >= 4:
        return (stem[:3],)
    if stem[1:2] == "i":
        return (stem[:2], stem[0] + "y")
    return (stem[:2],)


def _vocabulary(dept: DepartmentProfile) -> list[tuple[str, tuple[str, ...], bool]]:
    """List (label as written, stems, is keyword) for a department, keywords first, no repeats."""
    seen: set[tuple[str, ...]] = set()
    terms: list[tuple[str, tuple[str, ...], bool]] = []

    def add(items: Iterable[tuple[str, tuple[str, ...]]], is_keyword: bool) -> None:
        for label, stems in items:
            if stems and stems not in seen:
                seen.add(stems)
                terms.append((label, stems, is_keyword))

    add(((k, tuple(stem(t) for t in tokenize(k))) for k in dept.keywords), True)
    description_words = (
        (word, (stem(token),))
        for word in re.findall(r"\w+", dept.description)
        for token in tokenize(word)
        if len(token) > 1 and token not in STOP_WORDS
    )
    add(description_words, False)
    return terms
