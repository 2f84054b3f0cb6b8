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

import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.routing import chinese
from bot.core.routing.keywords import (
    MAX_MATCHED,
    STOP_WORDS,
    Router,
    Suggestion,
    script_of,
    stem,
    tokenize,
)

if TYPE_CHECKING:
    # numpy (about 10 MiB) is imported where a model is built or read: a company without
    # history (no model) never loads it.
    import numpy as np

FORMAT = 2  # 2: with the nearest-neighbour index of past cases
ALPHA = 0.5  # additive smoothing of the counts
GRAM_WEIGHT = 0.25  # a character n-gram weighs this much of a word (a word has several)
HISTORY_HALF = 40  # with this many cases the model counts fully half
KEYWORD_LOGIT = 1.0  # a keyword's points (3 for a keyword, 1 for a description word) as log-odds
UNSEEN = -20.0  # log P of a department the history never had
MIN_CALIBRATION = 30  # cases needed before the weight is chosen on the newest of them
CALIBRATION_SHARE = 0.25  # ... on this share of them
CALIBRATION_MAX = 3000  # ... at most this many
WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
MISROUTE_COST = 2.0
MIN_SHARE = 0.8  # where no keyword matched, the model's share needed to route away from triage
SURE = (0.8, 0.9, 0.95, 0.99, 0.999, math.inf)  # ... the shares tried (chosen; inf: never alone)
AGREE = (0.0, 0.01, 0.03, 0.1, 0.2)  # the model's least share for a keyword answer (chosen)
MIN_FEATURE_COUNT = 2  # features seen fewer times are dropped once the history is large
PRUNE_ABOVE = 5000  # ... "large": this many cases
EXAMPLES = 3  # past cases kept per (word, department), most recent first
NEIGHBOUR_CASES = 5000  # the newest past cases the nearest-neighbour index keeps
MAX_POSTINGS = 200  # a feature more past cases have is not indexed (it tells few cases apart)
NEIGHBOURS = 5  # the most similar past cases that vote
NEAREST = (0.4, 0.5, 0.6, 0.75, 0.9, 1.2, math.inf)  # vote thresholds tried (inf: off)
DEFAULT_NEAREST = 0.6  # the threshold before the history is large enough to choose one
SIMILAR_FLOOR = 0.2  # a past case less alike than this does not vote
VOTE_SHARE = 0.6  # the similar cases' share of the vote the winning department needs
GATES = (0.0, 1.5, 3.0, 4.5)  # keyword points below which, unbacked by history, go to triage
# A script (Latin, Cyrillic, Han) with this many of the newest cases gets a gate of its own:
# its keywords earn different points (the description is in one language) and are right more
# or less often than another script's.
MIN_SCRIPT_CALIBRATION = 8
REASON_WORDS = 3
SIMILAR = 2

_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Character n-grams of Russian words are taken from their Latin spelling, so that names written
# in either alphabet meet: "Коммунарка" and "Kommunarka", "Берген" and "Bergen", "Химки" and
# "Khimki" share most of their n-grams (Russian words still only meet Russian words otherwise).
_LATIN_SPELLING = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya"})


def features(text: str) -> tuple[list[str], list[str], dict[str, str]]:
    """(word stems, character n-grams, stem -> the text's word) of a text."""
    words: list[str] = []
    surface: dict[str, str] = {}
    grams: list[str] = []
    for token in tokenize(text):
        # Order numbers say nothing; a code of letters and a short number ("AUTUMN15",
        # "PAX300") names a thing.
        if token in STOP_WORDS or (_DIGIT.search(token) and (
                len(_LETTER.findall(token)) < 3 or len(_DIGIT.findall(token)) > 3)):
            continue
        han = chinese.has_han(token)
        if len(token) < 2 and not han:
            continue
        s = stem(token)
        words.append(s)
        surface.setdefault(s, token)
        if not han and len(token) >= 4:
            padded = f"<{token.translate(_LATIN_SPELLING)}>"
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
class Neighbours:
    """The newest past cases as an inverted index of their features (tf-idf, unit length), to
    find the past cases a text resembles most (cosine similarity). Recurring problems are
    reported again and again in other words; the nearest past reports name the department that
    finally owned them, and they are the "similar past cases" the reason shows."""

    ids: np.ndarray  # [cases] the cases' references
    labels: np.ndarray  # [cases] the index of each case's final owner in Model.classes
    idf: np.ndarray  # [features]
    ptr: np.ndarray  # [features + 1]: feature f's postings are rows/values[ptr[f]:ptr[f + 1]]
    rows: np.ndarray
    values: np.ndarray

    @classmethod
    def build(cls, items: Sequence[tuple[int, int, dict[int, float]]], size: int) -> Neighbours:
        """Index (case id, class index, feature index -> weighted count) items."""
        import numpy as np

        df = np.zeros(size)
        for _, _, weights in items:
            if weights:
                df[np.fromiter(weights, dtype=np.int64, count=len(weights))] += 1
        idf = np.log((len(items) + 1) / (df + 1)) + 1.0
        features, rows, values = [], [], []
        for r, (_, _, weights) in enumerate(items):
            if not weights:
                continue
            index = np.fromiter(weights, dtype=np.int64, count=len(weights))
            value = np.fromiter(weights.values(), dtype=np.float64, count=len(weights)) * idf[index]
            value /= np.sqrt((value * value).sum())
            rare = df[index] <= MAX_POSTINGS
            features.append(index[rare])
            rows.append(np.full(int(rare.sum()), r, dtype=np.int32))
            values.append(value[rare])
        feature = np.concatenate(features) if features else np.zeros(0, dtype=np.int64)
        order = np.argsort(feature, kind="stable")
        ptr = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(np.bincount(feature, minlength=size), out=ptr[1:])
        return cls(np.array([i for i, _, _ in items], dtype=np.int64),
                   np.array([c for _, c, _ in items], dtype=np.int16), idf.astype(np.float32),
                   ptr, (np.concatenate(rows) if rows else np.zeros(0, np.int32))[order],
                   (np.concatenate(values) if values else np.zeros(0))[order].astype(np.float32))

    def nearest(self, weights: dict[int, float]) -> list[tuple[float, int, int]]:
        """The NEIGHBOURS most similar past cases as (similarity, row, class index)."""
        import numpy as np

        if not weights or not len(self.ids):
            return []
        index = np.fromiter(weights, dtype=np.int64, count=len(weights))
        query = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
        query *= self.idf[index]
        norm = np.sqrt((query * query).sum())
        if not norm:
            return []
        query /= norm
        starts, ends = self.ptr[index], self.ptr[index + 1]
        rows = np.concatenate([self.rows[a:b] for a, b in zip(starts, ends, strict=True)])
        if not len(rows):
            return []
        values = np.concatenate([self.values[a:b] * q
                                 for a, b, q in zip(starts, ends, query, strict=True)])
        similarity = np.bincount(rows, weights=values, minlength=len(self.ids))
        count = min(NEIGHBOURS, len(similarity))
        top = np.argpartition(-similarity, count - 1)[:count]
        top = top[np.argsort(-similarity[top], kind="stable")]
        return [(float(similarity[r]), int(r), int(self.labels[r])) for r in top
                if similarity[r] > 0]

    def shares(self, row: int, feature: int) -> bool:
        """Whether past case `row` has `feature`."""
        postings = self.rows[self.ptr[feature]:self.ptr[feature + 1]]
        return bool((postings == row).any())

    def arrays(self) -> list[np.ndarray]:
        """The arrays to store, in order (see `from_arrays`)."""
        import numpy as np

        return [self.ids.astype(np.int64), self.labels.astype(np.int16),
                self.idf.astype(np.float32), self.ptr.astype(np.int64),
                self.rows.astype(np.int32), self.values.astype(np.float32)]

    @classmethod
    def from_arrays(cls, raw: bytes, cases: int, size: int, postings: int) -> Neighbours:
        """Read the arrays `arrays` wrote."""
        import numpy as np

        layout = [(np.int64, cases), (np.int16, cases), (np.float32, size),
                  (np.int64, size + 1), (np.int32, postings), (np.float32, postings)]
        out, at = [], 0
        for dtype, count in layout:
            width = np.dtype(dtype).itemsize * count
            out.append(np.frombuffer(raw[at:at + width], dtype=dtype).copy())
            at += width
        return cls(*out)


def _weights(vocabulary: dict[str, int], words: list[str], grams: list[str]) -> dict[int, float]:
    """A text's known features as feature index -> count (a character n-gram counts
    GRAM_WEIGHT of a word)."""
    out: dict[int, float] = {}
    for s in words:
        if (i := vocabulary.get(s)) is not None:
            out[i] = out.get(i, 0.0) + 1.0
    for g in grams:
        if (i := vocabulary.get(g)) is not None:
            out[i] = out.get(i, 0.0) + GRAM_WEIGHT
    return out


@dataclass
class Model:
    """Naive Bayes counts turned into log probabilities, example cases per word, and the
    nearest-neighbour index of the newest past cases."""

    classes: tuple[str, ...]
    vocabulary: dict[str, int]
    log_prob: np.ndarray  # [features, classes]
    log_prior: np.ndarray  # [classes]
    cases: int
    examples: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    trained_at: datetime | None = None
    weight: float | None = None  # chosen on the newest cases; None: by the history's size
    neighbours: Neighbours | None = None
    nearest: float = DEFAULT_NEAREST  # similarity at which past cases decide (chosen)
    gate: float = 0.0  # keyword points below which an answer unbacked by history goes to triage
    sure: float = MIN_SHARE  # the model's share at which it routes alone (chosen)
    agree: float = 0.0  # the model's share below which it vetoes a keyword answer (chosen)
    gates: dict[str, float] = field(default_factory=dict)  # `gate` for one script (chosen)

    def gate_for(self, text: str) -> float:
        """The keyword gate for the text's script."""
        return self.gates.get(script_of(text), self.gate)

    def similar(self, text: str) -> list[tuple[float, int, str]]:
        """The most similar past cases as (similarity, case id, final owner), most first."""
        if self.neighbours is None:
            return []
        words, grams, _ = features(text)
        found = self.neighbours.nearest(_weights(self.vocabulary, words, grams))
        return [(sim, int(self.neighbours.ids[row]), self.classes[c]) for sim, row, c in found]

    def shared_words(self, text: str, case_ids: Sequence[int]) -> tuple[str, ...]:
        """The text's words that the past cases `case_ids` had too, rarest first."""
        import numpy as np

        index = self.neighbours
        if index is None:
            return ()
        rows = [int(r) for r in np.flatnonzero(np.isin(index.ids, list(case_ids)))]
        words, _, surface = features(text)
        found = []
        for s in dict.fromkeys(words):
            f = self.vocabulary.get(s)
            if f is not None and any(index.shares(r, f) for r in rows):
                found.append((-float(index.idf[f]), surface[s]))
        return tuple(w for _, w in sorted(found)[:REASON_WORDS])

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

        index = self.neighbours
        header = {"format": FORMAT, "classes": list(self.classes), "cases": self.cases,
                  "vocabulary": sorted(self.vocabulary, key=self.vocabulary.__getitem__),
                  "examples": self.examples, "weight": self.weight,
                  "nearest": self.nearest, "gate": self.gate, "sure": self.sure,
                  "agree": self.agree, "gates": self.gates,
                  "neighbours": [len(index.ids), len(index.rows)] if index else None,
                  "trained_at": self.trained_at.isoformat() if self.trained_at else None}
        head = json.dumps(header, ensure_ascii=False).encode()
        body = np.ascontiguousarray(self.log_prob, dtype=np.float32).tobytes()
        prior = np.ascontiguousarray(self.log_prior, dtype=np.float64).tobytes()
        tail = b"".join(np.ascontiguousarray(a).tobytes() for a in index.arrays()) if index else b""
        return zlib.compress(len(head).to_bytes(8, "big") + head + prior + body + tail, 6)

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
        vocabulary = {f: i for i, f in enumerate(header["vocabulary"])}
        width = 4 * len(vocabulary) * len(classes)
        body = np.frombuffer(rest[8 * len(classes):8 * len(classes) + width], dtype=np.float32)
        log_prob = body.reshape(len(vocabulary), len(classes)).astype(np.float64)
        trained = header.get("trained_at")
        sizes = header.get("neighbours")
        index = (Neighbours.from_arrays(rest[8 * len(classes) + width:], sizes[0],
                                        len(vocabulary), sizes[1]) if sizes else None)
        return cls(classes, vocabulary, log_prob, prior, int(header["cases"]),
                   header.get("examples", {}),
                   datetime.fromisoformat(trained) if trained else None, header.get("weight"),
                   index, float(header.get("nearest", DEFAULT_NEAREST)),
                   float(header.get("gate", 0.0)), float(header.get("sure", MIN_SHARE)),
                   float(header.get("agree", 0.0)),
                   {k: float(v) for k, v in header.get("gates", {}).items()})


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
    tally = _Tally(classes)
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


class _Tally:
    """Feature counts per department, fed newest case first (or, with `newest`, a case newer
    than all those counted)."""

    def __init__(self, classes: tuple[str, ...]) -> None:
        import numpy as np

        self.classes = classes
        self.per_class: dict[str, Counter[str]] = {slug: Counter() for slug in classes}
        self.docs = np.zeros(len(classes))
        self.index = {slug: i for i, slug in enumerate(classes)}
        self.latest: dict[tuple[str, str], list[int]] = {}
        self.recent: list[tuple[int, int, list[str], list[str]]] = []  # for the neighbours
        self.cases = 0

    def add(self, case: Case, words: list[str], grams: list[str], newest: bool = False) -> None:
        """Count one case."""
        self.cases += 1
        self.docs[self.index[case.label]] += 1
        counter = self.per_class[case.label]
        counter.update(words)
        counter.update(grams)
        item = (case.id, self.index[case.label], words, grams)
        for s in set(words):
            kept = self.latest.setdefault((s, case.label), [])
            if newest:
                kept.insert(0, case.id)
                del kept[EXAMPLES:]
            elif len(kept) < EXAMPLES:
                kept.append(case.id)
        if newest:
            self.recent.insert(0, item)
            del self.recent[NEIGHBOUR_CASES:]
        elif len(self.recent) < NEIGHBOUR_CASES:
            self.recent.append(item)

    def fit(self, now: datetime | None) -> Model:
        """Counts to log probabilities."""
        import numpy as np

        classes, per_class = self.classes, self.per_class
        vocabulary: dict[str, int] = {}
        for counter in per_class.values():
            for feature in counter:
                vocabulary.setdefault(feature, len(vocabulary))
        counts = np.zeros((len(vocabulary), len(classes)))
        for c, slug in enumerate(classes):
            counter = per_class[slug]
            counts[np.fromiter((vocabulary[f] for f in counter), dtype=np.int64,
                               count=len(counter)),
                   c] = np.fromiter(counter.values(), dtype=np.float64, count=len(counter))
        names = sorted(vocabulary, key=vocabulary.__getitem__)
        if self.cases > PRUNE_ABOVE:
            keep = counts.sum(axis=1) >= MIN_FEATURE_COUNT
            counts = counts[keep]
            names = [n for n, k in zip(names, keep, strict=True) if k]
        smoothed = counts + ALPHA
        log_prob = np.log(smoothed) - np.log(smoothed.sum(axis=0, keepdims=True))
        log_prior = np.log((self.docs + 1) / (self.docs.sum() + len(classes)))
        final = {n: i for i, n in enumerate(names)}
        examples: dict[str, dict[str, list[int]]] = {}
        for (s, slug), ids in self.latest.items():
            if s in final:
                examples.setdefault(s, {})[slug] = ids
        neighbours = Neighbours.build(
            [(i, c, _weights(final, words, grams)) for i, c, words, grams in self.recent],
            len(final))
        return Model(classes, final, log_prob, log_prior, self.cases, examples, now,
                     neighbours=neighbours)


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
