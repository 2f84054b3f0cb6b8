"""The digest chart: 12-week customer NPS with its margin band over weekly complaint/praise bars."""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG in memory (set before pyplot is imported)
from matplotlib.figure import Figure

from bot.core.i18n import Translator

if TYPE_CHECKING:
    from bot.core.digest import DigestFigures


def digest_chart(figures: DigestFigures, t: Translator) -> bytes:
    """A PNG (about 1000x500 px) for the leadership digest."""
    labels = [f"W{w.number:02d}" for w in figures.weeks]
    x = list(range(len(labels)))
    figure = Figure(figsize=(10, 5), dpi=100)
    bars = figure.add_subplot()
    complaints = [k.get("complaint", 0) for k in figures.kinds]
    praise = [k.get("praise", 0) for k in figures.kinds]
    bars.bar([i - 0.2 for i in x], complaints, width=0.4, color="#e4572e", alpha=0.55,
             label=t.gettext("Complaints"))
    bars.bar([i + 0.2 for i in x], praise, width=0.4, color="#29a36a", alpha=0.55,
             label=t.gettext("Praise"))
    bars.set_ylabel(t.gettext("Signals per week"))
    bars.set_xticks(x, labels)
    line = bars.twinx()
    points = [(i, n.score, n.margin) for i, n in zip(x, figures.nps, strict=True)
              if n.score is not None and n.margin is not None]
    if points:
        xs = [p[0] for p in points]
        scores = [p[1] for p in points]
        low = [max(-100.0, p[1] - p[2]) for p in points]
        high = [min(100.0, p[1] + p[2]) for p in points]
        line.fill_between(xs, low, high, color="#2e86de", alpha=0.15,
                          label=t.gettext("95% margin"))
        line.plot(xs, scores, color="#2e86de", marker="o", linewidth=2,
                  label=t.gettext("Customer NPS"))
    line.set_ylim(-100, 100)
    line.axhline(0, color="#999999", linewidth=0.8)
    line.set_ylabel(t.gettext("Customer NPS"))
    handles = bars.get_legend_handles_labels()
    more = line.get_legend_handles_labels()
    line.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
    figure.suptitle(t.gettext("Customer NPS and signals, 12 weeks"))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Fonts without CJK glyphs warn on Chinese labels; the chart is still readable.
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        figure.tight_layout()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()
