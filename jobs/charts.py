"""The digest chart: two panels over the same 12 weeks, customer NPS with its 95% margin band
above and the weekly complaints and praise below (whole numbers on that axis).

Labels are in the reader's language, in fonts that have its letters: matplotlib's DejaVu Sans
has Latin and Cyrillic but no Chinese, so Noto Sans CJK (the noto-cjk-sans-otc package, or the
system's copy) fills in per glyph. When no font at hand covers a label, the chart is drawn in
English and a warning is logged: a chart of empty boxes helps nobody.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG in memory (set before pyplot is imported)
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, MultipleLocator

from bot.core.presentation.dates import day_month
from bot.core.shared.i18n import Translator

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bot.core.reporting.digest import DigestFigures

log = logging.getLogger(__name__)
LATIN = "DejaVu Sans"  # matplotlib's own font: Latin, Greek, Cyrillic
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP")  # Latin, Cyrillic and Chinese
_CJK_PACKAGE = ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc")
COMPLAINT_RED, PRAISE_GREEN, NPS_BLUE = "#d1495b", "#2a9d6f", "#2e6fba"


def digest_chart(figures: DigestFigures, t: Translator) -> bytes:
    """A PNG (1000x650 px) for the leadership digest."""
    buffer = io.BytesIO()
    digest_figure(figures, t).savefig(buffer, format="png")
    return buffer.getvalue()


def digest_figure(figures: DigestFigures, t: Translator) -> Figure:
    """The chart as a matplotlib figure: NPS above, counts below, one legend under both."""
    families = font_families(t.locale)
    figure = _draw(figures, t, families)
    if not covers(_texts(figure), families):
        log.warning("No font here has every letter of the %s chart labels (install "
                    "noto-cjk-sans-otc); drawing the chart in English", t.locale)
        figure = _draw(figures, Translator("en", str(t.timezone)), font_families("en"))
    return figure


def _draw(figures: DigestFigures, t: Translator, families: list[str]) -> Figure:
    figure = Figure(figsize=(10, 6.5), dpi=100, layout="constrained")
    nps_axes, count_axes = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    x = list(range(len(figures.weeks)))
    _nps_panel(nps_axes, figures, x, t, families)
    _count_panel(count_axes, figures, x, t, families)
    # Each week by its number and its Monday, in the reader's own date pattern ("W49\n11月30日").
    count_axes.set_xticks(x, [f"W{w.number:02d}\n{day_month(w.monday, t.locale)}"
                              for w in figures.weeks])
    for axes in (nps_axes, count_axes):
        axes.tick_params(labelfontfamily=families, labelsize=9)
        axes.spines[["top", "right"]].set_visible(False)
    figure.suptitle(t.gettext("Customer NPS and signals, 12 weeks"), fontfamily=families,
                    fontsize=13)
    handles, labels = nps_axes.get_legend_handles_labels()
    more = count_axes.get_legend_handles_labels()
    figure.legend(handles[::-1] + more[0], labels[::-1] + more[1], loc="outside lower center",
                  ncols=4, frameon=False, prop={"family": families, "size": 9})
    return figure


def _texts(figure: Figure) -> list[str]:
    """Every text the figure draws: titles, axis labels, legend entries, tick labels."""
    return [text.get_text() for text in figure.findobj(Text)]


def _nps_panel(axes: Axes, figures: DigestFigures, x: list[int], t: Translator,
               families: list[str]) -> None:
    """Customer NPS per week as a line, its 95% margin as a light band, zero as a guide."""
    nan = float("nan")  # a week without answers leaves a gap, not a line across it
    scores = [nan if n.score is None else n.score for n in figures.nps]
    margins = [nan if n.margin is None else n.margin for n in figures.nps]
    axes.axhline(0, color="#9a9a9a", linewidth=0.8, zorder=1)
    axes.fill_between(x, [s - m for s, m in zip(scores, margins, strict=True)],
                      [s + m for s, m in zip(scores, margins, strict=True)],
                      color=NPS_BLUE, alpha=0.15, linewidth=0, label=t.gettext("95% margin"),
                      zorder=2)
    axes.plot(x, scores, color=NPS_BLUE, marker="o", linewidth=2,
              label=t.gettext("Customer NPS"), zorder=3)
    for i, score in zip(x, scores, strict=True):
        if not math.isnan(score):
            axes.annotate(f"{score:+.0f}", (i, score), textcoords="offset points",
                          xytext=(0, 9), ha="center", fontsize=8, color=NPS_BLUE, zorder=4,
                          bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                                "edgecolor": "none", "alpha": 0.8})
    axes.set_ylim(-100, 100)  # the band is clipped to the scale
    axes.yaxis.set_major_locator(MultipleLocator(50))
    axes.set_ylabel(t.gettext("Customer NPS"), fontfamily=families)
    axes.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    axes.set_axisbelow(True)


def _count_panel(axes: Axes, figures: DigestFigures, x: list[int], t: Translator,
                 families: list[str]) -> None:
    """Complaints and praise per week as side-by-side bars, counted in whole numbers."""
    complaints = [k.get("complaint", 0) for k in figures.kinds]
    praise = [k.get("praise", 0) for k in figures.kinds]
    axes.bar([i - 0.2 for i in x], complaints, width=0.4, color=COMPLAINT_RED,
             label=t.gettext("Complaints"))
    axes.bar([i + 0.2 for i in x], praise, width=0.4, color=PRAISE_GREEN,
             label=t.gettext("Praise"))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_ylim(0, max([*complaints, *praise, 1]) * 1.1)
    axes.set_ylabel(t.gettext("Signals per week"), fontfamily=families)
    axes.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    axes.set_axisbelow(True)


def font_families(locale: str) -> list[str]:
    """Font families to draw `locale` in, the one that suits its letters first; matplotlib
    takes a glyph the first font lacks from the next."""
    cjk = _cjk_family()
    if cjk is None:
        return [LATIN]
    return [cjk, LATIN] if locale == "zh" else [LATIN, cjk]


def covers(texts: Iterable[str], families: list[str]) -> bool:
    """Whether the fonts of `families` together have a glyph for every letter of `texts`."""
    needed = {ord(c) for text in texts for c in text if not c.isspace()}
    for family in families:
        needed -= _codepoints(family)
    return not needed


@cache
def _codepoints(family: str) -> frozenset[int]:
    path = font_manager.findfont(font_manager.FontProperties(family=family),
                                 fallback_to_default=False)
    return frozenset(font_manager.get_font(path).get_charmap())


@cache
def _cjk_family() -> str | None:
    """Noto Sans CJK, from the package the project depends on or the system; None if neither
    is there. The simplified-Chinese face first; matplotlib before 3.10 reads only the first
    face of a collection (Japanese), which has the same Chinese characters."""
    package, name = _CJK_PACKAGE
    try:
        path = files(package).joinpath(name)
        if path.is_file():
            font_manager.fontManager.addfont(str(path))
    except (ModuleNotFoundError, OSError, RuntimeError) as error:
        log.debug("no packaged CJK font: %s", error)
    for family in CJK_FAMILIES:
        try:
            font_manager.findfont(font_manager.FontProperties(family=family),
                                  fallback_to_default=False)
        except ValueError:
            continue
        return family
    return None
