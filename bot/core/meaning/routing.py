"""Routing by meaning: the departments' own words and the nearest labelled cases of the
company's history, in any language, with a gate that sends an unsure answer to triage.

A department's score for a report is the similarity of its nearest past case plus `weight`
times its profile score (the similarity to the department's name, description and keywords,
plus the mean similarity of its ten nearest keywords, each keyword embedded alone: a keyword
written in one language still meets a report in another). The weight and the gate are chosen on
the history judged in order, each case by the cases before it (`judge_in_order`'s reasons).
bench/language.py measures it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.meaning.maths import (
    JUDGED,
    MIN_PAST,
    CaseIndex,
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

    @classmethod
    def build(cls, slugs: Sequence[str], profiles: Vectors, keywords: Vectors,
              owners: Sequence[int]) -> Departments:
        """From the vectors of `department_texts`' texts."""
        return cls(tuple(slugs), unit(profiles), unit(keywords) if len(keywords) else keywords,
                   np.asarray(owners, dtype=np.int32))

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


@dataclass(frozen=True)
class MeaningRouter:
    """Suggests a department by meaning; `Verdict.slug` is None where it is unsure."""

    departments: Departments
    cases: CaseIndex
    triage: str
    weight: float = WEIGHTS[1]
    gate: float = math.inf

    def best(self, vector: Vectors, before: int | None = None
             ) -> dict[str, tuple[float, int | None]]:
        """Each department's score and its nearest past case (None: it has none)."""
        nearest = self.cases.best_by_label(vector, before)
        profile = self.departments.scores(vector)
        return {slug: (nearest.get(slug, (0.0, None))[0] + self.weight * float(profile[n]),
                       nearest.get(slug, (0.0, None))[1])
                for n, slug in enumerate(self.departments.slugs)}

    def suggest(self, vector: Vectors) -> Verdict | None:
        """The department this report means, if it leads the runner-up by the gate."""
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
            judged = MeaningRouter(self.departments, self.cases, self.triage, weight).judged()
            if len(judged) < MIN_JUDGED:
                return MeaningRouter(self.departments, self.cases, self.triage, weight)
            gate = calibrate_gate(judged, max_misroutes)
            routed = sum(harmless and margin >= gate for margin, harmless in judged)
            if routed > choice[0]:
                choice = (routed, weight, gate)
        return MeaningRouter(self.departments, self.cases, self.triage, choice[1], choice[2])
