"""What routing, "me too" and themes do with vectors: nearest cases, margins, gates, groups.

Sentence-embedding cosines crowd together (a complaint sits at 0.77-0.82 from every department's
description with the bundled model), so decisions compare the best answer with the runner-up
(the margin) rather than trusting an absolute similarity.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np

from bot.core.meaning.port import Vectors


def unit(vectors: Sequence[Sequence[float]] | np.ndarray) -> Vectors:
    """Rows scaled to length 1 (a zero row stays zero), as float32."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    scaled: Vectors = np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)
    return scaled


def similarities(left: Vectors, right: Vectors) -> Vectors:
    """Cosine of every row of `left` with every row of `right` (both unit rows)."""
    return np.asarray(left @ right.T, dtype=np.float32)


MIN_CENTRED = 30  # rows a script or department needs in the sample for its centre
# A joined model's vector is its parts side by side (`models.parts_of`), each scaled by
# 1/sqrt(count). Centred, each part is scaled back to its share apart: otherwise the part the
# centres take less from outweighs the other (cross-language "me too" at recall 0.90: 0.951
# centred whole, 0.970 by parts).


@dataclass(frozen=True)
class Centres:
    """What every report of one script, and then of one department, has in common.

    A cosine between reports in two languages sits lower than within one (each script has its
    own offset in the model's space), and every report of a department shares its topic
    (money, deliveries): with both centres taken away, what is left is what a report says in
    particular, and two problems of one department stand apart. Taken from a sample of recent
    reports (no labels); a script or department with fewer than `MIN_CENTRED` reports in it has
    no centre (the mean of a few reports is theirs, not their script's or topic's).
    """

    scripts: Mapping[Hashable, np.ndarray]
    departments: Mapping[Hashable, np.ndarray]
    parts: tuple[int, ...] = ()  # a joined model's (`parts_of`)

    @classmethod
    def of(cls, vectors: Vectors, scripts: Sequence[Hashable],
           departments: Sequence[Hashable] | None = None, parts: tuple[int, ...] = ()
           ) -> Centres:
        """From a sample of unit rows, each row's script and (optionally) department; `parts`:
        the widths of a joined model's parts."""
        by_script = _means(vectors, scripts)
        if departments is None:
            return cls(by_script, {}, parts)
        return cls(by_script, _means(_less(vectors, scripts, by_script), departments), parts)

    def knows(self, scripts: Iterable[Hashable], department: Hashable | None = None) -> bool:
        """Whether the sample gave a centre to each of `scripts` (and to the department)."""
        return (all(script in self.scripts for script in scripts)
                and (department is None or department in self.departments))

    def apply(self, vectors: Vectors, scripts: Sequence[Hashable],
              department: Hashable | None = None) -> Vectors:
        """The rows less their script's centre, then less the department's (where known), as
        unit rows: compared with each other, their cosines say what they share in particular."""
        apart = _less(vectors, scripts, self.scripts)
        if department is not None and department in self.departments:
            apart = apart - self.departments[department]
        if len(self.parts) < 2 or sum(self.parts) != apart.shape[1]:
            return unit(apart)
        edges = np.cumsum((0, *self.parts))
        share = np.float32(1 / math.sqrt(len(self.parts)))
        return np.hstack([unit(apart[:, start:end]) * share
                          for start, end in pairwise(edges)])


def _means(vectors: Vectors, keys: Sequence[Hashable]) -> dict[Hashable, np.ndarray]:
    found: dict[Hashable, list[int]] = {}
    for row, key in enumerate(keys):
        found.setdefault(key, []).append(row)
    return {key: vectors[rows].mean(axis=0) for key, rows in found.items()
            if len(rows) >= MIN_CENTRED}


def _less(vectors: Vectors, keys: Sequence[Hashable], centres: Mapping[Hashable, np.ndarray]
          ) -> Vectors:
    if not len(vectors):
        return vectors
    zero = np.zeros(vectors.shape[1], dtype=np.float32)
    return np.asarray(vectors - np.vstack([centres.get(key, zero) for key in keys]),
                      dtype=np.float32)


@dataclass(frozen=True)
class Verdict:
    """A department chosen by meaning, or None where the margin is below the gate."""

    slug: str | None
    best: str  # the most similar department, chosen or not
    score: float
    margin: float  # best similarity minus the runner-up department's
    case_id: int | None = None  # the nearest labelled case that decided, if one did
    gate: float = -math.inf  # the margin it had to reach


def decide(best: Mapping[str, tuple[float, int | None]], gate: float) -> Verdict | None:
    """The department with the highest similarity if it leads the runner-up by `gate`.

    `best` maps a department to its best similarity and the case that gave it (None for a
    department profile). A single candidate leads by its own similarity.
    """
    if not best:
        return None
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    slug, (score, case_id) = ranked[0]
    margin = score - ranked[1][1][0] if len(ranked) > 1 else score
    return Verdict(slug if margin >= gate else None, slug, score, margin, case_id, gate)


@dataclass
class CaseIndex:
    """The newest labelled cases' vectors, for "the nearest past case of each department"."""

    ids: np.ndarray  # int64, one per row
    labels: tuple[str, ...]
    vectors: Vectors

    @classmethod
    def build(cls, cases: Sequence[tuple[int, str, Sequence[float] | np.ndarray]],
              limit: int) -> CaseIndex:
        """From (case id, department, vector), oldest first; keeps the newest `limit`."""
        kept = list(cases)[-limit:] if limit > 0 else []
        if not kept:
            return cls(np.zeros(0, dtype=np.int64), (), np.zeros((0, 0), dtype=np.float32))
        return cls(np.array([c[0] for c in kept], dtype=np.int64),
                   tuple(c[1] for c in kept), unit(np.vstack([np.asarray(c[2]) for c in kept])))

    def __len__(self) -> int:
        return len(self.labels)

    def best_by_label(self, vector: Vectors, before: int | None = None
                      ) -> dict[str, tuple[float, int | None]]:
        """Each department's most similar case to `vector`: (similarity, case id).

        `before` limits the search to the rows older than that one (judging the history in
        order, each case by its past only).
        """
        rows = len(self) if before is None else min(before, len(self))
        if not rows:
            return {}
        scores = similarities(unit(vector), self.vectors[:rows])[0]
        names, codes = self._codes
        codes = codes[:rows]
        best: dict[str, tuple[float, int | None]] = {}
        for code, name in enumerate(names):
            mine = np.flatnonzero(codes == code)
            if len(mine):
                row = int(mine[np.argmax(scores[mine])])  # the first of equals: the oldest
                best[name] = (float(scores[row]), int(self.ids[row]))
        return best

    @cached_property
    def _codes(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The distinct labels, and each row's label as a position among them."""
        names = tuple(sorted(set(self.labels)))
        position = {name: n for n, name in enumerate(names)}
        return names, np.array([position[label] for label in self.labels], dtype=np.int32)


MIN_PAST = 3  # a case is judged in order once this many cases came before it
JUDGED = 1000  # at most this many of the newest cases are judged (each by all before it)


def judge_in_order(index: CaseIndex, triage: str, extra: CaseIndex | None = None,
                   newest: int = JUDGED) -> list[tuple[float, bool]]:
    """Each indexed case (the newest `newest` of them) routed by the cases before it only, and
    `extra` (e.g. the department profiles): (margin, harmless), ready for `calibrate_gate`.

    As a new report meets the history: the first report of a recurring problem finds no twin.
    Judging each case by all the others instead (leave-one-out) let every recurring report meet
    its twins and chose a gate that misrouted 0.125 of new reports instead of 0.05
    (bench/language.py after four weeks); judged in order, 0.051. Deterministic.
    """
    judged = []
    for row in range(max(MIN_PAST, len(index) - newest), len(index)):
        best = index.best_by_label(index.vectors[row], before=row)
        if extra is not None:
            best = merge_best(best, extra.best_by_label(index.vectors[row]))
        verdict = decide(best, -math.inf)
        if verdict is not None:
            judged.append((verdict.margin, verdict.best in (index.labels[row], triage)))
    return judged


def merge_best(*parts: Mapping[str, tuple[float, int | None]]
               ) -> dict[str, tuple[float, int | None]]:
    """Per department, the most similar of several sources (cases, profiles)."""
    merged: dict[str, tuple[float, int | None]] = {}
    for part in parts:
        for slug, found in part.items():
            if slug not in merged or found[0] > merged[slug][0]:
                merged[slug] = found
    return merged


def calibrate_gate(judged: Sequence[tuple[float, bool]], max_misroutes: float) -> float:
    """The lowest margin gate at which the harmful answers above it are at most
    `max_misroutes` of all judged cases (math.inf: no gate is safe enough).

    `judged` holds (margin, harmless) per case: harmless when the best department was right, or
    was triage itself (triage passes a case on; it misroutes nothing). Below the gate a case goes
    to triage. Deterministic: the candidates are the judged margins themselves.
    """
    if not judged:
        return math.inf
    ranked = sorted(judged, key=lambda item: -item[0])
    allowed = max_misroutes * len(judged)
    harmful = 0
    gate = math.inf
    for position, (margin, harmless) in enumerate(ranked):
        harmful += not harmless
        if position + 1 < len(ranked) and ranked[position + 1][0] == margin:
            continue  # a gate cannot split equal margins
        if harmful > allowed:
            break
        gate = margin
    return gate


def group(vectors: Vectors, threshold: float) -> list[list[int]]:
    """Rows grouped by average-linkage agglomeration: two groups merge while the mean
    similarity between their members is at least `threshold`. Largest groups first."""
    count = len(vectors)
    if count == 0:
        return []
    sims = similarities(vectors, vectors).astype(np.float64)
    np.fill_diagonal(sims, -np.inf)
    sizes = np.ones(count)
    members: list[list[int]] = [[i] for i in range(count)]
    alive = np.ones(count, dtype=bool)
    while True:
        flat = int(np.argmax(sims))
        a, b = divmod(flat, count)
        if sims[a, b] < threshold:
            break
        merged = (sizes[a] * sims[a] + sizes[b] * sims[b]) / (sizes[a] + sizes[b])
        sims[a, :] = merged
        sims[:, a] = merged
        sims[a, a] = -np.inf
        sims[b, :] = -np.inf
        sims[:, b] = -np.inf
        sizes[a] += sizes[b]
        members[a].extend(members[b])
        alive[b] = False
    groups = [sorted(members[i]) for i in range(count) if alive[i]]
    return sorted(groups, key=lambda g: (-len(g), g[0]))
