"""Routing by meaning: the departments' own words and the nearest labelled cases of the
company's history, in any language, with a gate that sends an unsure answer to triage.

A department's score for a report is the similarity of its nearest past case plus `weight`
times its profile score (the similarity to the department's name, description and keywords,
plus the mean similarity of its ten nearest keywords, each keyword embedded alone: a keyword
written in one language still meets a report in another). The weight and the gate are chosen on
the history judged in order, each case by the cases before it (`judge_in_order`'s reasons).
bench/language.py measures it.

Once every script of the history has enough cases for its centre (`Centres`), the cases, the
profiles and each report are compared less their script's centre: each script has its own
offset in the model's space, so a report's translation then sits nearer than another problem
of its department written in the report's own language (docs/decisions/0019).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from bot.core.meaning.maths import (
    JUDGED,
    MIN_PAST,
    CaseIndex,
    Centres,
    Verdict,
    calibrate_gate,
    decide,
    similarities,
    unit,
)
from bot.core.meaning.port import Vectors

WEIGHTS = (0.25, 0.5, 1.0)  # the profiles' share beside the nearest cases (chosen per history)
# The nearest keywords whose mean similarity joins the profile's. A department's keywords come in
# three languages, so the 3 nearest are often one word and its translations; 10 hear more of the
# department (bench/routing.py, blend + meaning with no history / after a month: 3 0.587/0.106
# and 0.731/0.069, 6 0.596/0.110 and 0.750/0.069, 8 0.610/0.103 and 0.759/0.074, 10 0.608/0.094
# and 0.759/0.069, 12 0.599/0.083 and 0.750/0.056, 16 0.587/0.085 and 0.722/0.046).
NEAREST_KEYWORDS = 10
MIN_JUDGED = 20  # fewer judged cases than this: no gate is trusted, meaning never decides alone


def department_texts(departments: Sequence[tuple[str, str, Sequence[str]]]
                     ) -> tuple[list[str], list[str], list[int]]:
    """From (name, description, keywords) per department: the profile texts to embed, every
    keyword, and the position of each keyword's department."""
    profiles = [f"{name}: {description}" + (". " + ", ".join(keywords) if keywords else "")
                for name, description, keywords in departments]
    keywords = [k for _, _, words in departments for k in words]
    owners = [n for n, (_, _, words) in enumerate(departments) for _ in words]
    return profiles, keywords, owners


@dataclass(frozen=True)
class Departments:
    """The departments' profile and keyword vectors, embedded once per model."""

    slugs: tuple[str, ...]
    profiles: Vectors
    keywords: Vectors
    owners: np.ndarray
    scripts: tuple[str, ...] = ()  # each profile's script, then each keyword's (() unknown)

    @classmethod
    def build(cls, slugs: Sequence[str], profiles: Vectors, keywords: Vectors,
              owners: Sequence[int], scripts: Sequence[str] = ()) -> Departments:
        """From the vectors of `department_texts`' texts (and the script of each text)."""
        return cls(tuple(slugs), unit(profiles), unit(keywords) if len(keywords) else keywords,
                   np.asarray(owners, dtype=np.int32), tuple(scripts))

    def centred(self, centres: Centres) -> Departments:
        """The profiles and keywords less their script's centre (unknown scripts: as they are).
        A profile mixing scripts counts as its text's script (`script_of`: Chinese first)."""
        if len(self.scripts) != len(self.profiles) + len(self.keywords):
            return self
        split = len(self.profiles)
        return replace(self, profiles=centres.apply(self.profiles, self.scripts[:split]),
                       keywords=(centres.apply(self.keywords, self.scripts[split:])
                                 if len(self.keywords) else self.keywords))

    def scores(self, vector: Vectors) -> np.ndarray:
        """Each department's profile score for one report's vector."""
        probe = unit(vector)
        found: np.ndarray = similarities(probe, self.profiles)[0].astype(np.float64)
        if len(self.keywords):
            near = similarities(probe, self.keywords)[0]
            for position in range(len(self.slugs)):
                mine = np.sort(near[self.owners == position])[-NEAREST_KEYWORDS:]
                if len(mine):
                    found[position] += float(mine.mean())
        return found


def script_centres(vectors: Vectors, scripts: Sequence[str]) -> Centres | None:
    """The history's script centres where every script in it has one; None while one lacks
    it (a partly centred history compares centred cases with plain ones: bench/routing.py
    with a week of history, `--seed 17`, blend + meaning 0.596 instead of 0.648)."""
    if not len(vectors):
        return None
    centres = Centres.of(unit(vectors), scripts)
    return centres if centres.knows(set(scripts)) else None


@dataclass(frozen=True)
class MeaningRouter:
    """Suggests a department by meaning; `Verdict.slug` is None where it is unsure.

    With `centres`, the cases' vectors are already less their script's centre, and the
    profiles and each report are compared likewise (`of_history`)."""

    departments: Departments
    cases: CaseIndex
    triage: str
    weight: float = WEIGHTS[1]
    gate: float = math.inf
    centres: Centres | None = None

    @classmethod
    def of_history(cls, departments: Departments,
                   history: Sequence[tuple[int, str, Vectors]], scripts: Sequence[str],
                   triage: str, limit: int) -> MeaningRouter:
        """The router for a history of (case id, department, vector), oldest first, and each
        case's script: its newest `limit` cases, centred by script where `script_centres`
        allows (not calibrated yet)."""
        index = CaseIndex.build(history, limit)
        kept = list(scripts)[len(scripts) - len(index):]
        centres = script_centres(index.vectors, kept) if len(kept) == len(index) else None
        if centres is not None:
            index = CaseIndex(index.ids, index.labels, centres.apply(index.vectors, kept))
        return cls(departments, index, triage, centres=centres)

    @cached_property
    def _profiles(self) -> Departments:
        """The departments as the cases are compared: centred with them, or plain."""
        return self.departments if self.centres is None else self.departments.centred(
            self.centres)

    def best(self, vector: Vectors, before: int | None = None
             ) -> dict[str, tuple[float, int | None]]:
        """Each department's score and its nearest past case (None: it has none), for a
        vector compared as the cases are (see `suggest`)."""
        nearest = self.cases.best_by_label(vector, before)
        profile = self._profiles.scores(vector)
        return {slug: (nearest.get(slug, (0.0, None))[0] + self.weight * float(profile[n]),
                       nearest.get(slug, (0.0, None))[1])
                for n, slug in enumerate(self.departments.slugs)}

    def suggest(self, vector: Vectors, script: str = "") -> Verdict | None:
        """The department this report means, if it leads the runner-up by the gate; `script`:
        the report's (`script_of`), whose centre it is compared less of (a script the
        history has no centre for: as it is)."""
        if self.centres is not None:
            vector = self.centres.apply(unit(vector), [script])[0]
        return decide(self.best(vector), self.gate)

    def judged(self) -> list[tuple[float, bool]]:
        """The history's newest cases, each routed by the cases before it: (margin, harmless)."""
        out = []
        for row in range(max(MIN_PAST, len(self.cases) - JUDGED), len(self.cases)):
            verdict = decide(self.best(self.cases.vectors[row], before=row), -math.inf)
            if verdict is not None:
                out.append((verdict.margin,
                            verdict.best in (self.cases.labels[row], self.triage)))
        return out

    def calibrated(self, max_misroutes: float) -> MeaningRouter:
        """This router with the weight and gate that route the most judged cases while the
        harmful ones stay within `max_misroutes`; ties go to the smaller weight."""
        choice = (-1, WEIGHTS[1], math.inf)
        for weight in WEIGHTS:
            weighed = replace(self, weight=weight, gate=math.inf)
            judged = weighed.judged()
            if len(judged) < MIN_JUDGED:
                return weighed
            gate = calibrate_gate(judged, max_misroutes)
            routed = sum(harmless and margin >= gate for margin, harmless in judged)
            if routed > choice[0]:
                choice = (routed, weight, gate)
        return replace(self, weight=choice[1], gate=choice[2])
