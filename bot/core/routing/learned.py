"""Routing that learns from the company's own history, blended with the keywords.

The model is a multinomial naive Bayes over the routing stems of `routing.stems` and the
character n-grams of the text (trigrams of each Latin or Cyrillic word, which survive typos,
and bigrams of Chinese runs, which survive segmentation). Its label is the department that
finally owned each case (`Signal.department_id`: after a reporter's correction, a head's
reassignment, a reopening and reassignment). It is explainable: the words that weigh most for
the chosen department, and the most recent past cases that shared them, go into the reason.

The blend adds, per department, the keyword points and the model's log-posterior weighed by
`cases / (cases + HISTORY_HALF)`. With no history the weight is 0 and routing is exactly the
keywords' (a new company routes as before); as the history grows its evidence takes over: a
word the company kept moving to another department soon outweighs a keyword. Where no keyword
matched, the model alone decides, and only when it is sure enough; else triage. A keyword
answer the model all but rules out goes to triage too (the two views disagree). How much the
model weighs, how sure it must be and where its veto starts are chosen on the newest quarter
of the history once it has MIN_CALIBRATION cases (`_calibrate`), each from a fixed list; so is
the keyword gate (weak keyword answers the model does not back go to triage), for each script
apart where the newest cases have enough of it (Chinese keywords score fewer points, with no
description words in Chinese, and are right more or less often than English ones).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.routing.features import Case, features
from bot.core.routing.keywords import MAX_MATCHED, Router, Suggestion, script_of
from bot.core.routing.model import DEFAULT_NEAREST, MIN_SHARE, SIMILAR, Model, Tally

HISTORY_HALF = 40  # with this many cases the model counts fully half
KEYWORD_LOGIT = 1.0  # a keyword's points (3 for a keyword, 1 for a description word) as log-odds
UNSEEN = -20.0  # log P of a department the history never had
MIN_CALIBRATION = 30  # cases needed before the weight is chosen on the newest of them
CALIBRATION_SHARE = 0.25  # ... on this share of them
CALIBRATION_MAX = 3000  # ... at most this many
WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
MISROUTE_COST = 2.0
# Where no keyword matched, the model's shares tried for routing alone (chosen; inf: never).
SURE = (0.8, 0.9, 0.95, 0.99, 0.999, math.inf)
AGREE = (0.0, 0.01, 0.03, 0.1, 0.2)  # the model's least share for a keyword answer (chosen)
NEAREST = (0.4, 0.5, 0.6, 0.75, 0.9, 1.2, math.inf)  # vote thresholds tried (inf: off)
SIMILAR_FLOOR = 0.2  # a past case less alike than this does not vote
VOTE_SHARE = 0.6  # the similar cases' share of the vote the winning department needs
GATES = (0.0, 1.5, 3.0, 4.5)  # keyword points below which, unbacked by history, go to triage
# A script (Latin, Cyrillic, Han) with this many of the newest cases gets a gate of its own:
# its keywords earn different points (the description is in one language) and are right more
# or less often than another script's.
MIN_SCRIPT_CALIBRATION = 8



def train(cases: Sequence[Case], *, now: datetime | None = None,
          keywords: Router | None = None) -> Model | None:
    """Fit the model on past cases (None without any). With the keyword router, the model's
    weight in the blend is chosen on the newest cases (see `_calibrate`)."""
    if not cases:
        return None

    ordered = sorted(cases, key=lambda c: (c.at, c.id), reverse=True)  # newest first
    classes = tuple(sorted({c.label for c in cases}))
    calibrate = keywords is not None and len(cases) >= MIN_CALIBRATION
    held = min(round(len(cases) * CALIBRATION_SHARE), CALIBRATION_MAX) if calibrate else 0
    tally = Tally(classes)
    newest = [(case, *features(case.text)[:2]) for case in ordered[:held]]
    for case in ordered[held:]:
        tally.add(case, *features(case.text)[:2])
    chosen: tuple[float | None, float, float, dict[str, float], float, float] = (
        None, DEFAULT_NEAREST, 0.0, {}, MIN_SHARE, 0.0)
    if keywords is not None and calibrate:
        chosen = _calibrate(keywords, tally.fit(now), ordered[:held])
    for case, words, grams in reversed(newest):  # then the newest cases, each newer than all
        tally.add(case, words, grams, newest=True)
    model = tally.fit(now)
    model.weight, model.nearest, model.gate, model.gates, model.sure, model.agree = chosen
    return model


def _calibrate(keywords: Router, older: Model, newest: Sequence[Case]
               ) -> tuple[float, float, float, dict[str, float], float, float]:
    """The model's weight, the similarity at which past cases decide, the keyword gate (for
    all, and for each script the newest cases have MIN_SCRIPT_CALIBRATION of, on those alone),
    the share at which the model routes alone and the share below which it vetoes a keyword
    answer that would have routed the newest cases best, trained on the older ones: each misroute
    costs as much as MISROUTE_COST right answers (triage is not wrong, only slower). The
    history earns its say by being right where the keywords are not. Chosen one after the
    other, each from a fixed list; a tie keeps the earlier (the bolder, as before) option."""
    triage = keywords.triage
    scored = [(case.label, keywords.scores(case.text)[0], *older.log_posterior(case.text)[:1],
               older.similar(case.text), script_of(case.text)) for case in newest]

    def value(weight: float, nearest: float, gate: float, sure: float = MIN_SHARE,
              agree: float = 0.0, *, gates: dict[str, float] | None = None,
              script: str | None = None) -> float:
        """What the choices are worth on the newest cases (of one script, if given); `gates`
        overrides `gate` for their scripts."""
        total = 0.0
        for label, scores, log_post, near, written in scored:
            if script is not None and written != script:
                continue
            its_gate = gates.get(written, gate) if gates else gate
            got = _decide(scores, log_post, near, weight, nearest, its_gate, triage, sure,
                          agree)[0]
            total += 1.0 if got == label else -MISROUTE_COST if got != triage else 0.0
        return total

    def best(options: Iterable[float], score: Callable[[float], float]) -> float:
        chosen, top = 0.0, -math.inf
        for option in options:
            if (v := score(option)) > top + 1e-9:
                chosen, top = option, v
        return chosen

    weight = best(WEIGHTS, lambda w: value(w, math.inf, 0.0))
    nearest = best(NEAREST, lambda n: value(weight, n, 0.0))
    gate = best(GATES, lambda g: value(weight, nearest, g))

    def script_gate(script: str) -> float:
        return best(GATES, lambda g: value(weight, nearest, g, script=script))

    counts = Counter(item[-1] for item in scored)
    gates = {script: script_gate(script)
             for script, n in sorted(counts.items()) if n >= MIN_SCRIPT_CALIBRATION}
    sure = best(SURE, lambda s: value(weight, nearest, gate, s, gates=gates))
    agree = best(AGREE, lambda a: value(weight, nearest, gate, sure, a, gates=gates))
    return weight, nearest, gate, gates, sure, agree


def _decide(scores: dict[str, float], log_post: dict[str, float],
            near: Sequence[tuple[float, int, str]], weight: float, nearest: float, gate: float,
            triage: str, sure: float = MIN_SHARE, agree: float = 0.0
            ) -> tuple[str, tuple[int, ...]]:
    """The blend's choice (LearningRouter.suggest without the reason), and the similar past
    cases that decided it (none when the keywords and the word model did).

    1. The most similar past cases (each at least SIMILAR_FLOOR alike) vote with their
       similarity; a department with `nearest` votes and VOTE_SHARE of them wins. A recurring
       problem has several past reports that agree; a one-off story shares a word or two.
    2. Else keyword points plus `weight` times the model's log-posterior; where no keyword
       matched, the model alone, only when its share is at least `sure`; else triage.
    3. A keyword answer weaker than `gate` points that the model does not back goes to triage:
       the company's own history showed such answers were wrong too often; so does one the
       model gives less than `agree` of its share (the two views disagree)."""
    votes: dict[str, float] = {}
    for sim, _, slug in near:
        if sim >= SIMILAR_FLOOR:
            votes[slug] = votes.get(slug, 0.0) + sim
    if votes:
        winner = max(votes, key=lambda slug: votes[slug])
        if votes[winner] >= nearest and votes[winner] >= VOTE_SHARE * sum(votes.values()):
            return winner, tuple(i for sim, i, slug in near
                                 if slug == winner and sim >= SIMILAR_FLOOR)
    if weight == 0.0:
        best = max(scores, key=lambda slug: scores[slug], default=None)
        if best is None or scores[best] == 0.0 or scores[best] < gate:
            return triage, ()
        return best, ()
    blend = {slug: KEYWORD_LOGIT * score + weight * log_post.get(slug, UNSEEN)
             for slug, score in scores.items()}
    best = max(blend, key=lambda slug: blend[slug], default=None)
    if best is None:
        return triage, ()
    share = math.exp(log_post.get(best, UNSEEN))
    backed = share >= sure
    if not sum(scores.values()) and not backed:
        return triage, ()
    if scores[best] < gate and not backed:
        return triage, ()
    if share < agree:
        return triage, ()
    return best, ()


class LearningRouter:
    """The keyword router blended with the learned model (when there is one)."""

    def __init__(self, keywords: Router, model: Model | None = None) -> None:
        self.keywords = keywords
        self.model = model
        self.model_id: int | None = None
        self.checked_at = float("-inf")  # when the database was last asked for a newer model

    @property
    def weight(self) -> float:
        """How much the model counts against the keywords (0 without history)."""
        if self.model is None:
            return 0.0
        if self.model.weight is not None:
            return self.model.weight
        return self.model.cases / (self.model.cases + HISTORY_HALF)

    def suggest(self, text: str) -> Suggestion:
        """The department for the text, and what tipped it."""
        model, w = self.model, self.weight
        if model is None:
            return self.keywords.suggest(text)
        near = model.similar(text)
        gate = model.gate_for(text)
        if w == 0.0 and gate == 0.0 and not near:
            return self.keywords.suggest(text)
        scores, reasons = self.keywords.scores(text)
        log_post, known = model.log_posterior(text)
        triage = self.keywords.triage
        best, similar = _decide(scores, log_post, near, w, model.nearest, gate, triage,
                                model.sure, model.agree)
        if best == triage and not (similar or scores.get(triage)):
            return Suggestion(triage, (), True)
        if similar:  # past cases decided: name them and the words the text shares with them
            words = model.shared_words(text, similar) or model.reasons(best, known)[0]
            matched = _merge(words, reasons.get(best, ()))
            if matched:
                return Suggestion(best, matched, False, similar[:SIMILAR])
            return self.keywords.suggest(text)
        words, past = model.reasons(best, known) if best in model.classes else ((), ())
        matched = _merge(reasons.get(best, ()), words)
        if not matched:  # nothing to name (character n-grams alone): the keywords decide
            return self.keywords.suggest(text)
        return Suggestion(best, matched, False, past)


def _merge(keywords: Iterable[str], words: Iterable[str]) -> tuple[str, ...]:
    """The keywords first, then the model's words not already named (nor forms of them)."""
    kept = list(keywords)
    for word in words:
        folded = word.casefold()
        if not any(folded.startswith(k.casefold()[:4]) or k.casefold().startswith(folded)
                   for k in kept):
            kept.append(word)
    return tuple(kept[:MAX_MATCHED])


@dataclass(frozen=True)
class Evaluation:
    """How routing did on held-out cases: per department, and which it confused."""

    cases: int
    correct: int
    misrouted: int  # sent to a wrong department (not to triage)
    by_department: dict[str, tuple[int, int]]  # slug -> (correct, cases)
    confusions: list[tuple[str, str, int]]  # (expected, got, count), most first

    @property
    def accuracy(self) -> float:
        """Share routed to the right department."""
        return self.correct / self.cases if self.cases else math.nan


class Routes(Protocol):
    """Anything that suggests a department for a text (a router, a blend of routers)."""

    def suggest(self, text: str) -> Suggestion: ...


def evaluate(router: Routes, cases: Sequence[Case], triage: str) -> Evaluation:
    """Route each case's text and compare with its final owner."""
    by_department: dict[str, list[int]] = {}
    confusions: dict[tuple[str, str], int] = {}
    correct = misrouted = 0
    for case in cases:
        got = router.suggest(case.text).slug
        tally = by_department.setdefault(case.label, [0, 0])
        tally[1] += 1
        if got == case.label:
            correct += 1
            tally[0] += 1
        else:
            confusions[(case.label, got)] = confusions.get((case.label, got), 0) + 1
            misrouted += got != triage
    return Evaluation(len(cases), correct, misrouted,
                      {slug: (t[0], t[1]) for slug, t in sorted(by_department.items())},
                      sorted(((e, g, n) for (e, g), n in confusions.items()),
                             key=lambda x: (-x[2], x[0], x[1])))


def split_history(cases: Sequence[Case], held_out: float = 0.2
                  ) -> tuple[list[Case], list[Case]]:
    """The older part to train on and the most recent `held_out` share to test on."""
    ordered = sorted(cases, key=lambda c: (c.at, c.id))
    cut = len(ordered) - max(1, round(len(ordered) * held_out)) if ordered else 0
    return ordered[:cut], ordered[cut:]
