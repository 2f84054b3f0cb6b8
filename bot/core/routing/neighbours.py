"""The nearest-neighbour index of past cases: which past reports a text resembles most."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # numpy (about 10 MiB) is imported where a model is built or read: a company without
    # history (no model) never loads it.
    import numpy as np

MAX_POSTINGS = 200  # a feature more past cases have is not indexed (it tells few cases apart)
NEIGHBOURS = 5  # the most similar past cases that vote


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
