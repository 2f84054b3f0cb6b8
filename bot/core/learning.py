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
matched, the model alone decides, and only when it is sure enough; else triage.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core import chinese
from bot.core.routing import MAX_MATCHED, STOP_WORDS, Router, Suggestion, stem, tokenize

if TYPE_CHECKING:
    # numpy (about 10 MiB) is imported where a model is built or read: a company without
    # history (no model) never loads it.
    import numpy as np

FORMAT = 1
ALPHA = 0.5  # additive smoothing of the counts
GRAM_WEIGHT = 0.25  # a character n-gram weighs this much of a word (a word has several)
HISTORY_HALF = 40  # with this many cases the model counts fully half
KEYWORD_LOGIT = 1.0  # a keyword's points (3 for a keyword, 1 for a description word) as log-odds
UNSEEN = -20.0  # log P of a department the history never had
MIN_SHARE = 0.8  # where no keyword matched, the model's share needed to route away from triage
MIN_FEATURE_COUNT = 2  # features seen fewer times are dropped once the history is large
PRUNE_ABOVE = 5000  # ... "large": this many cases
EXAMPLES = 3  # past cases kept per (word, department), most recent first
REASON_WORDS = 3
SIMILAR = 2

_DIGIT = re.compile(r"\d")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def features(text: str) -> tuple[list[str], list[str], dict[str, str]]:
    """(word stems, character n-grams, stem -> the text's word) of a text."""
    words: list[str] = []
    surface: dict[str, str] = {}
    grams: list[str] = []
    for token in tokenize(text):
        if token in STOP_WORDS or _DIGIT.search(token):  # order numbers say nothing
            continue
        han = chinese.has_han(token)
        if len(token) < 2 and not han:
            continue
        s = stem(token)
        words.append(s)
        surface.setdefault(s, token)
        if not han and len(token) >= 4:
            padded = f"<{token}>"
            grams.extend(["#" + padded[i:i + 3] for i in range(len(padded) - 2)])
    for run in _HAN_RUN.findall(text):
        grams.extend("#" + run[i:i + 2] for i in range(len(run) - 1))
    return words, grams, surface


@dataclass(frozen=True)
class Case:
    """A past case: its reference, text, the department that finally owned it, and when."""

    id: int
    text: str
    label: str
    at: datetime


@dataclass
class Model:
    """Naive Bayes counts turned into log probabilities, and example cases per word."""

    classes: tuple[str, ...]
    vocabulary: dict[str, int]
    log_prob: np.ndarray  # [features, classes]
    log_prior: np.ndarray  # [classes]
    cases: int
    examples: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    trained_at: datetime | None = None

    def scores(self, text: str) -> tuple[np.ndarray, list[tuple[str, str, int]]]:
        """Log scores per class, and the text's known words as (stem, word, feature index)."""
        words, grams, surface = features(text)
        total = self.log_prior.copy()
        known: list[tuple[str, str, int]] = []
        for s in words:
            index = self.vocabulary.get(s)
            if index is not None:
                total += self.log_prob[index]
                known.append((s, surface[s], index))
        indices = [i for g in grams if (i := self.vocabulary.get(g)) is not None]
        if indices:
            total += GRAM_WEIGHT * self.log_prob[indices].sum(axis=0)
        return total, known

    def log_posterior(self, text: str) -> tuple[dict[str, float], list[tuple[str, str, int]]]:
        """log P(department | text) for each department of the history."""
        import numpy as np

        total, known = self.scores(text)
        shifted = total - total.max()
        logs = shifted - np.log(np.exp(shifted).sum())
        return dict(zip(self.classes, (float(x) for x in logs), strict=True)), known

    def reasons(self, slug: str, known: list[tuple[str, str, int]]
                ) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """The text's words that favour `slug` most over the other departments, and the most
        recent past cases of `slug` that had them."""
        import numpy as np

        c = self.classes.index(slug)
        weighed = []
        for s, word, index in dict.fromkeys(known):
            row = self.log_prob[index]
            others = np.delete(row, c)
            lift = float(row[c] - (others.max() if others.size else row[c] - 1.0))
            if lift > 0:
                weighed.append((lift, s, word))
        weighed.sort(key=lambda w: -w[0])
        top = weighed[:REASON_WORDS]
        similar: list[int] = []
        for _, s, _ in top:
            for case_id in self.examples.get(s, {}).get(slug, ()):
                if case_id not in similar:
                    similar.append(case_id)
        similar.sort(reverse=True)
        return tuple(w for _, _, w in top), tuple(similar[:SIMILAR])

    def to_bytes(self) -> bytes:
        """The model, compressed, for the `routing_model` table."""
        import numpy as np

        header = {"format": FORMAT, "classes": list(self.classes), "cases": self.cases,
                  "vocabulary": sorted(self.vocabulary, key=self.vocabulary.__getitem__),
                  "examples": self.examples,
                  "trained_at": self.trained_at.isoformat() if self.trained_at else None}
        head = json.dumps(header, ensure_ascii=False).encode()
        body = np.ascontiguousarray(self.log_prob, dtype=np.float32).tobytes()
        prior = np.ascontiguousarray(self.log_prior, dtype=np.float64).tobytes()
        return zlib.compress(len(head).to_bytes(8, "big") + head + prior + body, 6)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Model:
        """Read a model written by `to_bytes`."""
        import numpy as np

        raw = zlib.decompress(blob)
        size = int.from_bytes(raw[:8], "big")
        header = json.loads(raw[8:8 + size])
        if header.get("format") != FORMAT:
            raise ValueError(f"routing model format {header.get('format')} is not {FORMAT}")
        classes = tuple(header["classes"])
        rest = raw[8 + size:]
        prior = np.frombuffer(rest[:8 * len(classes)], dtype=np.float64).copy()
        body = np.frombuffer(rest[8 * len(classes):], dtype=np.float32)
        vocabulary = {f: i for i, f in enumerate(header["vocabulary"])}
        log_prob = body.reshape(len(vocabulary), len(classes)).astype(np.float64)
        trained = header.get("trained_at")
        return cls(classes, vocabulary, log_prob, prior, int(header["cases"]),
                   header.get("examples", {}),
                   datetime.fromisoformat(trained) if trained else None)


def train(cases: Sequence[Case], *, now: datetime | None = None) -> Model | None:
    """Fit the model on past cases (None without any)."""
    if not cases:
        return None
    import numpy as np

    classes = tuple(sorted({c.label for c in cases}))
    per_class: dict[str, Counter[str]] = {slug: Counter() for slug in classes}
    docs = np.array([float(sum(c.label == slug for c in cases)) for slug in classes])
    latest: dict[tuple[str, str], list[int]] = {}
    for case in sorted(cases, key=lambda c: (c.at, c.id), reverse=True):  # newest first
        words, grams, _ = features(case.text)
        counter = per_class[case.label]
        counter.update(words)
        counter.update(grams)
        for s in set(words):
            kept = latest.setdefault((s, case.label), [])
            if len(kept) < EXAMPLES:
                kept.append(case.id)
    vocabulary: dict[str, int] = {}
    for counter in per_class.values():
        for feature in counter:
            vocabulary.setdefault(feature, len(vocabulary))
    counts = np.zeros((len(vocabulary), len(classes)))
    for c, slug in enumerate(classes):
        counter = per_class[slug]
        counts[np.fromiter((vocabulary[f] for f in counter), dtype=np.int64, count=len(counter)),
               c] = np.fromiter(counter.values(), dtype=np.float64, count=len(counter))
    names = sorted(vocabulary, key=vocabulary.__getitem__)
    if len(cases) > PRUNE_ABOVE:
        keep = counts.sum(axis=1) >= MIN_FEATURE_COUNT
        counts = counts[keep]
        names = [n for n, k in zip(names, keep, strict=True) if k]
    smoothed = counts + ALPHA
    log_prob = np.log(smoothed) - np.log(smoothed.sum(axis=0, keepdims=True))
    log_prior = np.log((docs + 1) / (docs.sum() + len(classes)))
    final = {n: i for i, n in enumerate(names)}
    examples: dict[str, dict[str, list[int]]] = {}
    for (s, slug), ids in latest.items():
        if s in final:
            examples.setdefault(s, {})[slug] = ids
    return Model(classes, final, log_prob, log_prior, len(cases), examples, now)


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
        cases = self.model.cases if self.model is not None else 0
        return cases / (cases + HISTORY_HALF)

    def suggest(self, text: str) -> Suggestion:
        """The department for the text, and what tipped it."""
        model, w = self.model, self.weight
        if model is None or w == 0.0:
            return self.keywords.suggest(text)
        scores, reasons = self.keywords.scores(text)
        total = sum(scores.values())
        log_post, known = model.log_posterior(text)
        # Keyword points and the model's evidence add up as log-odds: a word the company kept
        # sending elsewhere outweighs a keyword once the history has enough such cases.
        blend = {slug: KEYWORD_LOGIT * score + w * log_post.get(slug, UNSEEN)
                 for slug, score in scores.items()}
        best = max(blend, key=lambda slug: blend[slug], default=None)
        if best is None:
            return Suggestion(self.keywords.triage, (), True)
        if not total and math.exp(log_post.get(best, UNSEEN)) < MIN_SHARE:
            return Suggestion(self.keywords.triage, (), True)
        words: tuple[str, ...] = ()
        similar: tuple[int, ...] = ()
        if best in model.classes:
            words, similar = model.reasons(best, known)
        matched = _merge(reasons.get(best, ()), words)
        if not matched and not similar:
            return Suggestion(best, (), best == self.keywords.triage and not total)
        return Suggestion(best, matched, False, similar)


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


def evaluate(router: Router | LearningRouter, cases: Sequence[Case], triage: str
             ) -> Evaluation:
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
