"""Rising themes: the words and phrases whose share of complaints grew most this week against
the four weeks before, for the weekly digest (the company's and each head's).

A term is a routing stem (bot/core/routing/keywords.py `stems`: stop words of English, Russian and
Chinese removed, Chinese segmented) or two in a row; a complaint counts once per term. It is
shown as the complaint's own words, most common spelling first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.routing import chinese
from bot.core.routing.keywords import STOP_WORDS, stem, tokenize

MIN_COUNT = 2  # a theme is at least this many complaints of the week
TOP = 5
BASELINE_WEEKS = 4


@dataclass(frozen=True)
class Complaint:
    """A complaint as themes need it."""

    id: int
    text: str
    department_id: int
    at: datetime


@dataclass(frozen=True)
class Theme:
    """A rising term: complaints with it this week, its share now and before, an example."""

    label: str
    count: int
    share: float
    before: float  # share in the previous BASELINE_WEEKS weeks
    example: int  # the newest complaint of the week with it


def _terms(text: str) -> dict[tuple[str, ...], str]:
    """The text's terms (one stem, or two stems in a row) with their words as written."""
    words = [(stem(t), t) for t in tokenize(text)
             if t not in STOP_WORDS and len(t) > 1]  # one Chinese character is mostly a particle
    terms: dict[tuple[str, ...], str] = {}
    for i, (s, word) in enumerate(words):
        terms.setdefault((s,), word)
        if i:
            previous_stem, previous = words[i - 1]
            joiner = "" if chinese.has_han(previous + word) else " "
            terms.setdefault((previous_stem, s), previous + joiner + word)
    return terms


def rising(week: Sequence[Complaint], before: Sequence[Complaint], top: int = TOP
           ) -> tuple[Theme, ...]:
    """The `top` terms whose share of complaints grew most, at least MIN_COUNT this week."""
    if not week:
        return ()
    now: Counter[tuple[str, ...]] = Counter()
    spelled: dict[tuple[str, ...], Counter[str]] = {}
    newest: dict[tuple[str, ...], tuple[datetime, int, int]] = {}  # (at, id, -position)
    ids: dict[tuple[str, ...], set[int]] = {}
    for complaint in week:
        for position, (term, words) in enumerate(_terms(complaint.text).items()):
            now[term] += 1
            spelled.setdefault(term, Counter())[words] += 1
            ids.setdefault(term, set()).add(complaint.id)
            key = (complaint.at, complaint.id, -position)
            if term not in newest or key[:2] > newest[term][:2]:
                newest[term] = key
    then: Counter[tuple[str, ...]] = Counter()
    for complaint in before:
        then.update(term for term in _terms(complaint.text) if now[term] >= MIN_COUNT)
    candidates = []
    for term, count in now.items():
        if count < MIN_COUNT:
            continue
        share = count / len(week)
        earlier = then[term] / len(before) if before else 0.0
        if share > earlier:
            candidates.append((share - earlier, len(term), count, -newest[term][2], term, share,
                               earlier))
    # Most grown first; then phrases before words, more complaints, earlier in the text.
    candidates.sort(key=lambda c: (-c[0], -c[1], -c[2], c[3], c[4]))
    chosen: list[Theme] = []
    taken: list[set[int]] = []
    for _, _, count, _, term, share, earlier in candidates:
        # Terms found in exactly the same complaints ("courier late" and "late"; the words of
        # one complaint sent twice) are one theme: the first is shown.
        if ids[term] in taken:
            continue
        taken.append(ids[term])
        chosen.append(Theme(spelled[term].most_common(1)[0][0], count, share, earlier,
                            newest[term][1]))
        if len(chosen) == top:
            break
    return tuple(chosen)


def by_department(week: Iterable[Complaint], before: Iterable[Complaint]
                  ) -> dict[int, tuple[Theme, ...]]:
    """Rising themes of each department's complaints."""
    now: dict[int, list[Complaint]] = {}
    then: dict[int, list[Complaint]] = {}
    for complaint in week:
        now.setdefault(complaint.department_id, []).append(complaint)
    for complaint in before:
        then.setdefault(complaint.department_id, []).append(complaint)
    return {d: rising(items, then.get(d, [])) for d, items in now.items()}
