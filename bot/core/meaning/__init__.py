"""Meaning: texts compared by what they say, in any language, through a sentence-embedding port.

The port (`Embedder`) turns texts into unit vectors; its adapters live outside the core
(`bot/language/`: the bundled model in process, or an OpenAI-compatible endpoint). An adapter
that cannot answer returns no vectors, and callers then decide as they do without meaning.
`maths` holds what routing, "me too" and themes do with the vectors: the nearest labelled
cases, the margin between the best two departments, a gate calibrated on the history, and
grouping by meaning.
"""

from bot.core.meaning.maths import (
    CaseIndex,
    Verdict,
    calibrate_gate,
    decide,
    group,
    judge_in_order,
    merge_best,
    similarities,
    unit,
)
from bot.core.meaning.port import Embedder, Off, Vectors

__all__ = ["CaseIndex", "Embedder", "Off", "Vectors", "Verdict", "calibrate_gate", "decide",
           "group", "judge_in_order", "merge_best",
           "similarities", "unit"]
