"""Suggest the department that owns a signal from its text, by stemmed keyword matching.

`stems(text)` is the one tokenizer of the product (routing, the learned model, themes and
similarity all use it): lowercased words, Chinese segmented by jieba (bot/core/routing/chinese.py),
each stemmed for its script, stop words of English, Russian and Chinese removed.
"""

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import Stemmer  # PyStemmer: the Snowball stemmers compiled in C

from bot.core.routing import chinese

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
_VOWELS_AND_SIGNS = frozenset("аеёиоуыэюяйьъ")
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
        "покупатель", "покупатели", "клиентка", "клиентки", "клиентку", "клиента", "клиенту",
        "клиентов", "покупательница", "people", "person", "she", "he", "her", "him", "his",
        "we", "us", "i", "me", "my", "says", "said", "say", "would", "could", "should", "again",
        "every", "only", "more", "even", "never", "after", "before", "just", "still", "some",
        "than", "then", "there", "here", "about", "because", "but", "if", "so", "very", "too",
        "get", "got", "one", "two", "three", "four", "five", "time", "times", "day", "days",
        "week", "weeks", "month", "months", "year", "years", "now", "out", "up", "how", "why",
        "она", "ей", "ее", "ему", "нам", "нас", "наш", "наши", "нашей", "я", "мне", "меня",
        "может", "можно", "никто", "ничего", "даже", "еще", "ещё", "очень", "уже", "был", "была",
        "было", "были", "будет", "бы", "раз", "два", "три", "день", "дня", "неделю", "недели",
        "месяц", "год", "после", "чтобы", "когда", "который", "которая", "которые", "всем",
        "сказал", "сказала", "говорит", "говорят", "снова", "опять", "каждый", "более",
        # Chinese function words, and the same "customer" words.
        "的", "了", "是", "在", "我", "我们", "你", "你们", "他", "她", "它", "他们", "和", "与",
        "也", "都", "就", "还", "又", "很", "太", "被", "把", "让", "给", "这", "那", "这个",
        "那个", "一个", "有", "没有", "不", "没", "吗", "呢", "吧", "啊", "呀", "说", "要", "会",
        "能", "可以", "对", "从", "到", "上", "下", "里", "中", "后", "着", "过", "个", "次",
        "而且", "但是", "但", "因为", "所以", "如果", "已经", "什么", "怎么", "一下", "一直",
        "客户", "顾客", "用户", "请", "非常", "真的", "自己", "时候", "现在", "今天",
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
        pair = (Stemmer.Stemmer("russian"), Stemmer.Stemmer("english"))
        _local.stemmers = pair
    return pair


@lru_cache(maxsize=262144)
def stem(token: str) -> str:
    """Stem one lowercased token with the stemmer of its script; other scripts pass through."""
    russian, english = _stemmers()
    if _CYRILLIC.search(token):
        return russian.stemWord(token)
    if _LATIN.search(token):
        return english.stemWord(token)
    return token


def script_of(text: str) -> str:
    """"han", "cyrillic" or "latin": the script a text is mostly routed by (Chinese first, as
    a Chinese text may name a brand in Latin letters; then Cyrillic, likewise)."""
    if chinese.has_han(text):
        return "han"
    return "cyrillic" if _CYRILLIC.search(text.lower()) else "latin"


def tokenize(text: str) -> list[str]:
    """Lowercase, fold ё into е, split on word characters (Chinese into jieba's words) and
    drop digits-only tokens."""
    folded = text.lower().replace("ё", "е")
    if chinese.has_han(folded):
        words = [w for part in chinese.segment(folded) for w in _WORD.findall(part)]
    else:
        words = _WORD.findall(folded)
    return [t for t in words if not t.isdigit()]


def stems(text: str) -> list[str]:
    """The text's routing terms, in order: tokenized, stemmed, stop words and one-letter
    Latin or Cyrillic words dropped. Stable: the learned model, themes and similarity use it."""
    return [stem(t) for t in tokenize(text)
            if t not in STOP_WORDS and (len(t) > 1 or chinese.has_han(t))]


# Snowball also strips derivational endings, so "installer", "installment", "installation"
# and "install" all stem to "instal". A text word matches a keyword's stem exactly only when
# it has the same derivational ending as a word of the file with that stem (inflections such
# as plurals and tenses do not count): "installer" no longer matches "installment".
_INFLECTIONS = ("'s", "ings", "ing", "ed", "es", "s")
_DERIVATIONS = ("ation", "ition", "ment", "ness", "ance", "ence", "ity", "ist", "ism", "ion",
                "er", "or")


def derivation(word: str, word_stem: str) -> str:
    """The derivational ending a Latin word carries at its stem ("" for none)."""
    if not _LATIN.search(word):
        return ""
    base = word
    for ending in _INFLECTIONS:
        if base.endswith(ending) and len(base) - len(ending) >= len(word_stem) - 1:
            base = base[: -len(ending)]
            break
    for ending in _DERIVATIONS:
        if base.endswith(ending) and len(base) - len(ending) >= len(word_stem) - 2:
            return ending
    return ""


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
    similar: tuple[int, ...] = ()  # past cases (signal ids) the learned model leaned on
    by_meaning: bool = False  # the language layer decided (similar: the nearest past case)


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
        self.slugs = tuple(d.slug for d in departments)
        self.triage = triage_slug
        chinese.add_words(k.lower() for d in departments for k in d.keywords)
        raw: list[tuple[str, list[tuple[str, tuple[str, ...], bool]]]] = []
        # stem -> the derivational endings the file's words with that stem carry
        self._endings: dict[str, set[str]] = {}
        # the stem Snowball gives a file word's other forms -> the word's stem (`_aliases`)
        self._aliases: dict[str, str] = {}
        for dept in departments:
            raw.append((dept.slug, _vocabulary(dept, self._endings, self._aliases)))

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
        scores, reasons = self.scores(text)
        best = max(scores, key=lambda slug: scores[slug], default=None)  # first on ties
        if best is None or scores[best] == 0.0:
            return Suggestion(self._triage, (), True)
        return Suggestion(best, reasons[best], False)

    def scores(self, text: str) -> tuple[dict[str, float], dict[str, tuple[str, ...]]]:
        """Every department's keyword score (file order) and the words that made it, strongest
        first, each word of the text named once."""
        strength, sources = self._match(text)
        candidates: dict[int, set[int]] = {}
        for found in strength:
            for d, k in self._by_stem.get(found, ()):
                candidates.setdefault(d, set()).add(k)
        scores: dict[str, float] = {}
        reasons: dict[str, tuple[str, ...]] = {}
        for d, (slug, terms) in enumerate(self._terms):
            hits = []
            for order in sorted(candidates.get(d, ())):
                term = terms[order]
                factor = min((strength.get(s, 0.0) for s in term.stems), default=0.0)
                if factor:
                    words = frozenset(w for s in term.stems for w in sources.get(s, ()))
                    hits.append((term.weight * factor, order, term.label, words))
            scores[slug] = sum(h[0] for h in hits)
            hits.sort(key=lambda h: (-h[0], h[1]))
            reasons[slug] = _distinct((h[2], h[3]) for h in hits)
        return scores, reasons

    def _match(self, text: str) -> tuple[dict[str, float], dict[str, set[str]]]:
        """Map each vocabulary stem found in the text to 1.0 (exact) or PREFIX_FACTOR, and to
        the words of the text that matched it."""
        found: dict[str, float] = {}
        sources: dict[str, set[str]] = {}
        heads = self._heads
        for token in set(tokenize(text)):
            if token[:3] not in heads and token[:2] not in heads and token[:1] not in heads:
                continue
            s = stem(token)
            if s not in self._vocab:
                s = self._aliases.get(s, s)
            if s in self._vocab and derivation(token, s) in self._endings.get(s, {""}):
                found[s] = 1.0
                sources.setdefault(s, set()).add(token)
            if len(s) < PREFIX_MIN_LEN:
                continue
            related = set(self._prefixes.get(s, ()))
            related.update(s[:n] for n in range(PREFIX_MIN_LEN, len(s)) if s[:n] in self._long)
            for v in related:
                found.setdefault(v, PREFIX_FACTOR)
                sources.setdefault(v, set()).add(token)
        return found, sources


def _distinct(hits: Iterable[tuple[str, frozenset[str]]]) -> tuple[str, ...]:
    """The reason's words, strongest first, without near-repeats: a keyword is left out when
    the words of the text it matched were all named already ("доставку" matches both
    "доставка" and "доставили"), or when it is a form of one named ("deliver", "delivery")."""
    kept: list[str] = []
    named: set[str] = set()
    for label, words in hits:
        folded = label.casefold()
        if words and words <= named:
            continue
        if not any(folded.startswith(k) or k.startswith(folded) for k in map(str.casefold, kept)):
            kept.append(label)
            named |= words
        if len(kept) == MAX_MATCHED:
            break
    return tuple(kept)


def _keyword_tokens(keyword: str) -> list[str]:
    """A keyword's words. A Chinese keyword is one word (chinese.add_words keeps it whole when
    texts are segmented), so building a router never loads the segmenter."""
    if chinese.has_han(keyword):
        return [t for t in _WORD.findall(keyword.lower().replace("ё", "е")) if not t.isdigit()]
    return tokenize(keyword)


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


def _aliases(word: str, word_stem: str) -> list[str]:
    """The stems Snowball gives a Russian word's other forms where they differ from its own:
    the word itself when Snowball cut it short ("диван" -> "дива", but "диваном" -> "диван"),
    and the word without its fleeting vowel ("звонок": "звонка", "звонки" -> "звонк";
    "продавец": "продавца" -> "продавц"). A word without such forms gets a stem no other
    word has, which matches nothing."""
    if not _CYRILLIC.search(word):
        return []
    found = [word] if word_stem != word else []
    if (len(word) >= 5 and word[-2] in "оеё" and word[-1] not in _VOWELS_AND_SIGNS
            and word[-3] not in _VOWELS_AND_SIGNS):
        found.append(word[:-2] + word[-1])
    return found


def _vocabulary(dept: DepartmentProfile, endings: dict[str, set[str]],
                aliases: dict[str, str]) -> list[tuple[str, tuple[str, ...], bool]]:
    """List (label as written, stems, is keyword) for a department, keywords first, no repeats;
    record in `endings` the derivational ending of every word behind each stem, and in
    `aliases` the stems of Russian words' forms that differ from theirs."""
    seen: set[tuple[str, ...]] = set()
    terms: list[tuple[str, tuple[str, ...], bool]] = []

    def stemmed(tokens: list[str]) -> tuple[str, ...]:
        out = []
        for token in tokens:
            s = stem(token)
            endings.setdefault(s, set()).add(derivation(token, s))
            for alias in _aliases(token, s):
                aliases.setdefault(alias, s)
            out.append(s)
        return tuple(out)

    def add(items: Iterable[tuple[str, tuple[str, ...]]], is_keyword: bool) -> None:
        for label, term_stems in items:
            if term_stems and term_stems not in seen:
                seen.add(term_stems)
                terms.append((label, term_stems, is_keyword))

    add(((k, stemmed(_keyword_tokens(k))) for k in dept.keywords), True)
    description_words = (
        (word, stemmed([token]))
        for word in re.findall(r"\w+", dept.description)
        for token in tokenize(word)
        if len(token) > 1 and token not in STOP_WORDS
    )
    add(description_words, False)
    return terms
