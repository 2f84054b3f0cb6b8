"""Rising themes: the words and phrases whose share of complaints grew most this week against
the four weeks before, for the weekly digest (the company's and each head's).

With the language layer on, themes are groups of the week's complaints that mean the same, in
any language (`by_meaning`): each labelled by its most typical report, with its departments.
Their vectors are first freed of their script's centre (what every report in that language has
in common, taken from the five weeks' complaints), which lets one problem's reports in three
languages meet before two problems in one language do. Without the layer (or for complaints
without vectors), the words below.

A term is a routing stem (bot/core/routing/keywords.py `stems`: stop words of English, Russian and
Chinese removed, Chinese segmented) or two in a row; a complaint counts once per term. It is
shown as the complaint's own words, most common spelling first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.meaning.models import USE, USE_E5, parts_of
from bot.core.routing import chinese
from bot.core.routing.keywords import STOP_WORDS, script_of, stem, tokenize

if TYPE_CHECKING:
    from bot.core.meaning.port import Vectors

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
    example: int  # the newest complaint of the week with it (by meaning: the most typical)
    departments: tuple[int, ...] = ()  # by meaning: the departments its complaints went to


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


@dataclass(frozen=True)
class Thresholds:
    """The average similarity at which two groups of complaints are one theme: on vectors less
    their script's centre, where every script of the week has one, else on the plain vectors."""

    centred: float
    plain: float
    # The columns read: of a joined model's vectors, its first model's alone (None: all).
    width: int | None = None


def of_week(week: Sequence[Complaint], before: Sequence[Complaint],
            vectors: dict[int, Vectors] | None = None, threshold: Thresholds | None = None
            ) -> tuple[Theme, ...]:
    """The week's themes: by meaning where the week's complaints have vectors and the model a
    threshold, else by words."""
    if vectors and threshold is not None and any(c.id in vectors for c in week):
        return by_meaning(week, before, vectors, threshold)
    return rising(week, before)


def by_department(week: Iterable[Complaint], before: Iterable[Complaint],
                  vectors: dict[int, Vectors] | None = None,
                  threshold: Thresholds | None = None) -> dict[int, tuple[Theme, ...]]:
    """Rising themes of each department's complaints."""
    now: dict[int, list[Complaint]] = {}
    then: dict[int, list[Complaint]] = {}
    for complaint in week:
        now.setdefault(complaint.department_id, []).append(complaint)
    for complaint in before:
        then.setdefault(complaint.department_id, []).append(complaint)
    return {d: of_week(items, then.get(d, []), vectors, threshold) for d, items in now.items()}


# Per model (bench/themes.py: each of the 14 recurring problems of bench/data/routing_signals.tsv
# one theme across its languages, no theme mixing two; the centred threshold chosen on the
# problems of half the departments). Another model: themes by words.
THEME_THRESHOLDS = {
    USE: Thresholds(centred=0.25, plain=0.38),
    # USE's part of the joined vectors (bot/language/bundled.py): joined with e5's, one group
    # mixed two problems at every threshold where each problem was one theme (docs/decisions/0020).
    USE_E5: Thresholds(
        centred=0.25, plain=0.38, width=parts_of(USE_E5)[0])}
MAX_GROUPED = 2000  # the week's newest complaints grouped (the similarity matrix is n x n)
LABEL_CHARS = 80


def comparable(rows: Vectors, texts: Sequence[str], then: Vectors, earlier: Sequence[str],
               thresholds: Thresholds) -> tuple[Vectors, Vectors, float]:
    """The week's vectors and the earlier ones, less their script's centre where every script
    of the week has one in the five weeks, and the threshold that goes with them."""
    import numpy as np  # here: with the language layer off, numpy is never loaded

    from bot.core.meaning.maths import Centres

    scripts = [script_of(text) for text in texts]
    earlier_scripts = [script_of(text) for text in earlier]
    centres = Centres.of(np.vstack([rows, then]), scripts + earlier_scripts)
    if not centres.knows(scripts):
        return rows, then, thresholds.plain
    return (centres.apply(rows, scripts), centres.apply(then, earlier_scripts),
            thresholds.centred)


def by_meaning(week: Sequence[Complaint], before: Sequence[Complaint],
               vectors: dict[int, Vectors], thresholds: Thresholds, top: int = TOP
               ) -> tuple[Theme, ...]:
    """The `top` groups of this week's complaints that mean the same (at least MIN_COUNT),
    whose share grew most against the complaints before (those as close to the group's centre
    as its members are to each other). Deterministic: complaints in (time, id) order."""
    import numpy as np  # here: with the language layer off, numpy is never loaded

    from bot.core.meaning.maths import group, similarities, unit

    mine = sorted((c for c in week if c.id in vectors), key=lambda c: (c.at, c.id))
    mine = mine[-MAX_GROUPED:]
    if not mine:
        return ()
    columns = slice(thresholds.width)
    rows = unit(np.vstack([vectors[c.id][columns] for c in mine]))
    earlier = [c for c in before if c.id in vectors]
    then = (unit(np.vstack([vectors[c.id][columns] for c in earlier])) if earlier
            else np.zeros((0, rows.shape[1]), dtype=np.float32))
    rows, then, threshold = comparable(rows, [c.text for c in mine], then,
                                       [c.text for c in earlier], thresholds)
    found = []
    for members in group(rows, threshold):
        if len(members) < MIN_COUNT:
            break  # largest first
        inner = similarities(rows[members], rows[members])
        typical = members[int(np.argmax(inner.sum(axis=1)))]  # the first of equals: oldest
        centre = unit(rows[members].mean(axis=0))
        close = int((similarities(then, centre)[:, 0] >= threshold).sum()) if len(then) else 0
        share = len(members) / len(mine)
        earlier_share = close / len(earlier) if earlier else 0.0
        if share > earlier_share:
            complaint = mine[typical]
            found.append((share - earlier_share, typical, Theme(
                _short(complaint.text), len(members), share, earlier_share, complaint.id,
                tuple(sorted({mine[m].department_id for m in members})))))
    found.sort(key=lambda item: (-item[0], -item[2].count, item[1]))
    return tuple(theme for _, _, theme in found[:top])


def _short(text: str) -> str:
    """The first line of a report, cut at a word near LABEL_CHARS."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if len(line) <= LABEL_CHARS:
        return line
    cut = line[:LABEL_CHARS].rsplit(" ", 1)[0] if " " in line[:LABEL_CHARS] else line[:LABEL_CHARS]
    return cut.rstrip(" ,.;:") + "…"
