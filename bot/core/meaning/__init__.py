"""Meaning: texts compared by what they say, in any language, through a sentence-embedding port.

The port (`Embedder`) turns texts into unit vectors; its adapters live outside the core
(`bot/language/`: the bundled model in process, or an OpenAI-compatible endpoint). An adapter
that cannot answer returns no vectors, and callers then decide as they do without meaning.
`maths` holds what routing, "me too" and themes do with the vectors: the nearest labelled
cases, the margin between the best two departments, a gate calibrated on the history, and
grouping by meaning.

The package imports numpy only when one of its names is used: a bot with the layer off never
loads it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {"CaseIndex": "maths", "Verdict": "maths", "calibrate_gate": "maths",
          "decide": "maths", "group": "maths", "judge_in_order": "maths",
          "merge_best": "maths", "similarities": "maths", "unit": "maths",
          "Embedder": "port", "Off": "port", "Vectors": "port"}

__all__ = ["CaseIndex", "Embedder", "Off", "Vectors", "Verdict", "calibrate_gate", "decide",
           "group", "judge_in_order", "merge_best", "similarities", "unit"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
