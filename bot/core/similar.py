""""Same as VOC-12?": a new report that resembles an open case of its department.

Texts are compared on routing's words (bot/core/routing.py: its tokenizer and Snowball stems,
without stop words), with routing's prefix bridge between related forms ("опоздал" /
"опоздание"): the Dice coefficient of the two sets of stems, a prefix match counting
`routing.PREFIX_FACTOR`. The threshold was measured on the labelled pairs in
bench/data/similar_pairs.tsv (`bench/similar.py` prints precision and recall); it favours
precision, since a wrong offer costs the reporter a press and a missed one costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache

from sqlmodel import Session, col, select

from bot.core import routing
from bot.core.context import Core
from bot.core.domain import OPEN_STATUSES, Kind
from bot.core.render import first_line
from bot.core.views import CaptureResult, format_ref
from storage.models import Department, Signal

THRESHOLD = 0.5
RECENT = timedelta(days=30)  # open cases older than this are not offered
CANDIDATES = 100  # the newest open cases of the department compared with a new report
KINDS = (Kind.COMPLAINT, Kind.IDEA)  # praise is not a problem to join


@lru_cache(maxsize=4096)  # an open case is compared with every new report of its department
def words(text: str) -> frozenset[str]:
    """The stems that say what a text is about."""
    return frozenset(routing.stem(token) for token in routing.tokenize(text)
                     if token not in routing.STOP_WORDS and len(token) > 1)


def _matched(stem: str, other: frozenset[str]) -> float:
    if stem in other:
        return 1.0
    if len(stem) >= routing.PREFIX_MIN_LEN and any(
            len(o) >= routing.PREFIX_MIN_LEN and (o.startswith(stem) or stem.startswith(o))
            for o in other):
        return routing.PREFIX_FACTOR
    return 0.0


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """0 (nothing shared) to 1 (the same words)."""
    if not a or not b:
        return 0.0
    shared = sum(_matched(s, b) for s in a) + sum(_matched(s, a) for s in b)
    return shared / (len(a) + len(b))


def most_similar(session: Session, signal_id: int, department_id: int, text: str,
                 since: datetime, threshold: float = THRESHOLD) -> tuple[int, str] | None:
    """The open case of the department most like `text` (id, first line), if one is alike."""
    mine = words(text)
    best: tuple[float, int, str] | None = None
    for other_id, other_text in session.exec(
            select(Signal.id, Signal.text).where(
                Signal.department_id == department_id, Signal.id != signal_id,
                col(Signal.status).in_(OPEN_STATUSES), col(Signal.merged_into_id).is_(None),
                col(Signal.kind).in_(KINDS), col(Signal.created_at) >= since)
            .order_by(col(Signal.id).desc()).limit(CANDIDATES)):
        score = similarity(mine, words(other_text))
        if other_id is not None and score >= threshold and (best is None or score > best[0]):
            best = (score, other_id, other_text)
    return (best[1], first_line(best[2])) if best else None


def offer(core: Core, outcomes: Sequence[CaptureResult | Exception]
          ) -> list[CaptureResult | Exception]:
    """Captures with the open case each new report resembles (one read for all of them)."""
    wanted = [o for o in outcomes if isinstance(o, CaptureResult) and not o.duplicate
              and o.signal.kind in KINDS]
    if not wanted:
        return list(outcomes)
    found: dict[int, tuple[str, str]] = {}
    with core.db.read() as session:
        slugs = {d.slug: d.id for d in session.exec(select(Department))}
        for result in wanted:
            view = result.signal
            hit = most_similar(session, view.id, slugs.get(view.department.slug) or 0,
                               view.text, core.clock() - RECENT)
            if hit is not None:
                found[view.id] = (format_ref(hit[0]), hit[1])
    return [replace(o, signal=replace(o.signal, similar=found[o.signal.id]))
            if isinstance(o, CaptureResult) and o.signal.id in found else o
            for o in outcomes]
