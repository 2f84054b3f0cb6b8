""""Same as VOC-12?": a new report that resembles an open case of its department.

Texts are compared on routing's words (bot/core/routing/keywords.py: its tokenizer and
Snowball stems, without stop words), with routing's prefix bridge between related forms ("опоздал" /
"опоздание"): the Dice coefficient of the two sets of stems, a prefix match counting
`routing.PREFIX_FACTOR`. The threshold was measured on the labelled pairs in
bench/data/similar_pairs.tsv (`bench/similar.py` prints precision and recall); it favours
precision, since a wrong offer costs the reporter a press and a missed one costs nothing.

Across scripts (a Chinese report, an open Russian case) no stem is shared: there the language
layer's vectors decide, where both reports have one of a model whose thresholds were measured.
The vectors are first freed of what every report of their script and of the department has in
common (`Centres`, from a sample of the company's recent reports), then compared at the
threshold of their pair of scripts (`CENTRED_THRESHOLDS`); a department with too few reports in
the sample for its centre (or a script with too few) is compared on the plain vectors
(`CROSS_THRESHOLDS`). docs/decisions/0017 and 0020 have the figures. Within one script the
stems stay: meaning finds a "late" courier and a "rude" courier alike, which are two problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from time import monotonic
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Select, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session

from bot.core.meaning.models import USE, USE_E5, parts_of
from bot.core.presentation.render import first_line
from bot.core.presentation.views import CaptureResult, format_ref
from bot.core.routing import keywords as routing
from bot.core.shared.context import Core
from bot.core.shared.domain import OPEN_STATUSES, Kind
from storage import vectors
from storage.models import Signal

if TYPE_CHECKING:
    from bot.core.meaning.maths import Centres
    from bot.core.meaning.port import Vectors

Meant = dict[int, "Vectors"]  # signal id -> its stored vector

THRESHOLD = 0.5
# Cosine of two reports in different scripts at which they are the same problem, per model
# (bench/similar.py's cross-language pairs; USE alone at 0.45: precision 0.982; joined by e5 at
# 0.62: 0.955), where the department's centre is not known.
CROSS_THRESHOLDS = {USE: 0.45,
                    USE_E5: 0.62}
# The same, per pair of scripts, on vectors less their script's and department's centres:
# chosen by bench/similar.py on half the departments (the lowest with precision >= 0.95 there).
CENTRED_THRESHOLDS: dict[str, dict[tuple[str, str], float]] = {
    USE: {
        ("cyrillic", "latin"): 0.11, ("han", "latin"): 0.12, ("cyrillic", "han"): 0.09},
    USE_E5: {
        ("cyrillic", "latin"): 0.05, ("han", "latin"): 0.08, ("cyrillic", "han"): 0.05}}
SAMPLE = 2000  # the newest complaints and ideas with a vector whose centres are taken
CENTRES_TTL = 300.0  # seconds a sample's centres serve before it is read again
RECENT = timedelta(days=30)  # open cases older than this are not offered
CANDIDATES = 100  # the newest open cases of the department compared with a new report
KINDS = (Kind.COMPLAINT, Kind.IDEA)  # praise is not a problem to join


@dataclass(frozen=True)
class Words:
    """The stems of a text, and those long enough for the prefix bridge by their first
    letters (related forms share at least `routing.PREFIX_MIN_LEN` of them)."""

    stems: frozenset[str]
    by_prefix: dict[str, tuple[str, ...]]


@lru_cache(maxsize=4096)  # an open case is compared with every new report of its department
def words(text: str) -> Words:
    """The stems that say what a text is about."""
    stems = frozenset(routing.stem(token) for token in routing.tokenize(text)
                      if token not in routing.STOP_WORDS and len(token) > 1)
    by_prefix: dict[str, list[str]] = {}
    for stem in stems:
        if len(stem) >= routing.PREFIX_MIN_LEN:
            by_prefix.setdefault(stem[:routing.PREFIX_MIN_LEN], []).append(stem)
    return Words(stems, {key: tuple(found) for key, found in by_prefix.items()})


def _bridged(stems: frozenset[str], other: Words, exact: frozenset[str]) -> int:
    """How many of `stems` (not shared exactly) are a prefix of, or prefixed by, a stem of
    `other` that is not shared exactly either."""
    count = 0
    for stem in stems:
        if len(stem) < routing.PREFIX_MIN_LEN:
            continue
        if any(o not in exact and (o.startswith(stem) or stem.startswith(o))
               for o in other.by_prefix.get(stem[:routing.PREFIX_MIN_LEN], ())):
            count += 1
    return count


def similarity(a: Words, b: Words) -> float:
    """0 (nothing shared) to 1 (the same words): each side's stems found in the other, a
    prefix match counting `routing.PREFIX_FACTOR`, over both sides' stems."""
    if not a.stems or not b.stems:
        return 0.0
    exact = a.stems & b.stems
    shared = 2.0 * len(exact)
    if a.by_prefix.keys() & b.by_prefix.keys():  # set operations first: most cases share none
        shared += routing.PREFIX_FACTOR * (_bridged(a.stems - exact, b, exact)
                                           + _bridged(b.stems - exact, a, exact))
    return shared / (len(a.stems) + len(b.stems))


@lru_cache(maxsize=1)
def _candidates() -> Select[Any]:
    """Open cases of a report's department, newest first: built once (capture's hot path)."""
    s = Signal.__table__.c  # type: ignore[attr-defined]
    department = (sa_select(s.department_id).where(s.id == bindparam("signal_id"))
                  .scalar_subquery())
    statement: Select[Any] = (
        sa_select(s.id, s.text, s.department_id)
        .where(s.department_id == department, s.id != bindparam("signal_id"),
               s.status.in_([str(status) for status in OPEN_STATUSES]),
               s.merged_into_id.is_(None), s.kind.in_([str(kind) for kind in KINDS]),
               s.created_at >= bindparam("since"))
        .order_by(s.id.desc()).limit(CANDIDATES))
    return statement


def scripts_pair(first: str, second: str) -> tuple[str, str]:
    """Two scripts in the order of `CENTRED_THRESHOLDS`' keys."""
    return (first, second) if first <= second else (second, first)


def cross_likeness(text: str, other: str, meant: tuple[Vectors, Vectors], model: str,
                   centres: Centres | None = None, department: int | None = None) -> float | None:
    """How far past its threshold the cosine of two reports in different scripts is (>= 0: the
    same problem): on centred vectors where the department's centre is known, else on the plain
    ones; None where the model has no threshold."""
    scripts = [routing.script_of(text), routing.script_of(other)]
    by_pair = CENTRED_THRESHOLDS.get(model, {})
    pair = scripts_pair(*scripts)
    if centres is not None and centres.knows(scripts, department) and pair in by_pair:
        import numpy as np  # here: with the language layer off, numpy is never loaded

        rows = centres.apply(np.vstack(meant), scripts, department)
        return float(rows[0] @ rows[1]) - by_pair[pair]
    cross = CROSS_THRESHOLDS.get(model)
    return None if cross is None else float(meant[0] @ meant[1]) - cross


def likeness(text: str, other: str, meant: tuple[Vectors, Vectors] | None = None,
             model: str = "", centres: Centres | None = None, department: int | None = None
             ) -> float:
    """How far past its threshold `other` is alike `text` (>= 0: the same problem): by the
    vectors `meant` across scripts, where the model's threshold is known; else by the words."""
    if meant is not None and routing.script_of(text) != routing.script_of(other):
        found = cross_likeness(text, other, meant, model, centres, department)
        if found is not None:
            return found
    return similarity(words(text), words(other)) - THRESHOLD


# Per database (its engine) and model: when the sample was read, and its centres.
_sampled: WeakKeyDictionary[Engine, dict[str, tuple[float, Centres | None]]] = (
    WeakKeyDictionary())


def centres(session: Session, model: str) -> Centres | None:
    """The centres of the newest `SAMPLE` complaints and ideas with a vector of `model`, by
    script and by department; read again after `CENTRES_TTL` seconds. None: no such vector."""
    engine = session.get_bind().engine
    found = _sampled.get(engine, {}).get(model)
    if found is not None and monotonic() - found[0] < CENTRES_TTL:
        return found[1]
    rows = vectors.newest(session=session, model=model, kinds=[str(kind) for kind in KINDS],
                          limit=SAMPLE)
    made: Centres | None = None
    if rows:
        import numpy as np  # here: with the language layer off, numpy is never loaded

        from bot.core.meaning.maths import Centres

        made = Centres.of(np.vstack([vector for _, _, vector in rows]),
                          [routing.script_of(text) for text, _, _ in rows],
                          [department for _, department, _ in rows], parts_of(model))
    _sampled.setdefault(engine, {})[model] = (monotonic(), made)
    return made


def most_similar(session: Session, signal_id: int, text: str, since: datetime,
                 model: str = "") -> tuple[int, str] | None:
    """The open case of the report's department most like `text` (id, first line), if one
    is alike enough; `model`: the language layer's, whose stored vectors compare scripts."""
    best: tuple[float, int, str] | None = None
    rows = [(int(row[0]), str(row[1]), row[2]) for row in session.connection().execute(
        _candidates(), {"signal_id": signal_id, "since": since})]
    meant: Meant = {}
    sample: Centres | None = None
    script = routing.script_of(text)
    # Only reports in another script are compared by their vectors (within one, by stems).
    across = [other for other, other_text, _ in rows if routing.script_of(other_text) != script]
    if model in CROSS_THRESHOLDS and across:
        meant = vectors.read(session=session, model=model, signal_ids=[signal_id, *across])
        sample = centres(session, model) if signal_id in meant else None
    for other_id, other_text, department in rows:
        pair = ((meant[signal_id], meant[other_id])
                if signal_id in meant and other_id in meant else None)
        score = likeness(text, other_text, pair, model, sample, department)
        if score >= 0 and (best is None or score > best[0]):
            best = (score, other_id, other_text)
    return (best[1], first_line(best[2])) if best else None


def could_offer(session: Session, report: Signal, case: Signal, model: str = "") -> bool:
    """Whether `case` is one the offer could have named for `report` (re-derived when the
    reporter presses "Add me to ...", so only an offered join happens): a complaint or idea
    recent when the report came, alike enough by the offer's own rule. The caller checks
    department and state."""
    if not (report.kind in KINDS and case.kind in KINDS
            and case.created_at >= report.created_at - RECENT):
        return False
    meant: Meant = {}
    sample: Centres | None = None
    if (model in CROSS_THRESHOLDS and report.id is not None and case.id is not None
            and routing.script_of(report.text) != routing.script_of(case.text)):
        meant = vectors.read(session=session, model=model, signal_ids=[report.id, case.id])
        sample = centres(session, model)
    pair = ((meant[report.id], meant[case.id])
            if report.id in meant and case.id in meant else None)
    return likeness(report.text, case.text, pair, model, sample, case.department_id) >= 0


def offer(core: Core, outcomes: Sequence[CaptureResult | Exception]
          ) -> list[CaptureResult | Exception]:
    """Captures with the open case each new report resembles (one read for all of them)."""
    wanted = [o for o in outcomes if isinstance(o, CaptureResult) and not o.duplicate
              and o.signal.kind in KINDS]
    if not wanted:
        return list(outcomes)
    found: dict[int, tuple[str, str]] = {}
    with core.db.read() as session:
        for result in wanted:
            view = result.signal
            hit = most_similar(session, view.id, view.text, core.clock() - RECENT,
                               core.meaning.model)
            if hit is not None:
                found[view.id] = (format_ref(hit[0]), hit[1])
    return [replace(o, signal=replace(o.signal, similar=found[o.signal.id]))
            if isinstance(o, CaptureResult) and o.signal.id in found else o
            for o in outcomes]
