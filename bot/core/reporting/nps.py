"""Net Promoter Score: % promoters (9-10) minus % detractors (0-6), with its 95% margin.

Each answer counts +1 (promoter), 0 (passive) or -1 (detractor); NPS is 100 times their mean,
so its standard error is that of a mean: sqrt(variance / n), and the 95% margin is 1.96 of it.
Below `SMALL_SAMPLE` answers the figure is marked as too small to lean on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

SMALL_SAMPLE = 30  # fewer answers than this: "too few answers" (the margin is then > ~15 points)
Z_95 = 1.959964


def category(value: int) -> str:
    """`promoter` (9-10), `passive` (7-8) or `detractor` (0-6)."""
    if not 0 <= value <= 10:
        raise ValueError(f"an NPS answer is 0-10, got {value}")
    return "promoter" if value >= 9 else "passive" if value >= 7 else "detractor"


@dataclass(frozen=True)
class Nps:
    """Counts of one set of answers and the figures derived from them."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    def __post_init__(self) -> None:
        """Counts are never negative."""
        if min(self.promoters, self.passives, self.detractors) < 0:
            raise ValueError("NPS counts cannot be negative")

    @classmethod
    def of(cls, values: Iterable[int]) -> Nps:
        """The NPS of raw 0-10 answers."""
        counts = {"promoter": 0, "passive": 0, "detractor": 0}
        for value in values:
            counts[category(value)] += 1
        return cls(counts["promoter"], counts["passive"], counts["detractor"])

    def __add__(self, other: Nps) -> Nps:
        return Nps(self.promoters + other.promoters, self.passives + other.passives,
                   self.detractors + other.detractors)

    @property
    def n(self) -> int:
        """Number of answers."""
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> float | None:
        """NPS from -100 to +100, None without answers."""
        if self.n == 0:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.n

    @property
    def margin(self) -> float | None:
        """Half-width of the 95% confidence interval in NPS points, None without answers."""
        if self.n == 0:
            return None
        p, d = self.promoters / self.n, self.detractors / self.n
        variance = max(0.0, p + d - (p - d) ** 2)
        return 100.0 * Z_95 * math.sqrt(variance / self.n)

    @property
    def small(self) -> bool:
        """Too few answers to lean on."""
        return self.n < SMALL_SAMPLE

    def rounded(self) -> int | None:
        """The score as people quote it (a whole number)."""
        return None if self.score is None else round(self.score)
