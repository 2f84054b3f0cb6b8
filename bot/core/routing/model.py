"""The learned routing model: naive Bayes counts per department, example cases per word, the
nearest-neighbour index of the newest cases, and how it is stored (bot/core/routing/learned.py
says how it is blended with the keywords)."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.routing.features import GRAM_WEIGHT, Case, feature_weights, features
from bot.core.routing.keywords import script_of
from bot.core.routing.neighbours import Neighbours

if TYPE_CHECKING:
    # numpy (about 10 MiB) is imported where a model is built or read: a company without
    # history (no model) never loads it.
    import numpy as np

FORMAT = 2  # 2: with the nearest-neighbour index of past cases
ALPHA = 0.5  # additive smoothing of the counts
MIN_SHARE = 0.8  # where no keyword matched, the model's share needed to route away from triage
MIN_FEATURE_COUNT = 2  # features seen fewer times are dropped once the history is large
PRUNE_ABOVE = 5000  # ... "large": this many cases
EXAMPLES = 3  # past cases kept per (word, department), most recent first
NEIGHBOUR_CASES = 5000  # the newest past cases the nearest-neighbour index keeps
DEFAULT_NEAREST = 0.6  # the threshold before the history is large enough to choose one
REASON_WORDS = 3
SIMILAR = 2


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
        found = self.neighbours.nearest(feature_weights(self.vocabulary, words, grams))
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


class Tally:
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
            [(i, c, feature_weights(final, words, grams)) for i, c, words, grams in self.recent],
            len(final))
        return Model(classes, final, log_prob, log_prior, self.cases, examples, now,
                     neighbours=neighbours)


