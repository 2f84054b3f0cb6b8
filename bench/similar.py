"""Precision and recall of "Same as VOC-12?" (bot/core/capture/similar.py) on labelled pairs.

    .venv/bin/python bench/similar.py [--data bench/data/similar_pairs.tsv]

Each pair is two reports of one department: 1 = the same problem, 0 = a different one. A pair is
offered when its similarity reaches the threshold. Prints precision and recall at the chosen
threshold and at its neighbours, so a change of the threshold or the tokenizer shows its cost.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.capture.similar import THRESHOLD, similarity, words

DATA = Path(__file__).parent / "data" / "similar_pairs.tsv"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    pairs = load(args.data)
    same = sum(p[0] for p in pairs)
    print(f"{len(pairs)} pairs ({same} the same problem, {len(pairs) - same} different)")
    for threshold in sorted({0.3, 0.4, 0.45, THRESHOLD, 0.55, 0.6, 0.7}):
        precision, recall, offered = measure(pairs, threshold)
        mark = "  <- chosen" if threshold == THRESHOLD else ""
        print(f"threshold {threshold:.2f}: precision {precision:.1%}, recall {recall:.1%} "
              f"({offered} offered){mark}")


if __name__ == "__main__":
    main()
