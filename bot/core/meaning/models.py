"""The names of the bundled models whose thresholds were measured. Stored vectors carry the
name of the model that made them, and routing, "me too" and themes look every threshold up by
that name, so the names are written once, here (bot/language/bundled.py uses them too)."""

from __future__ import annotations

USE = "universal-sentence-encoder-multilingual-3"
E5 = "multilingual-e5-small"
USE_E5 = f"{USE}+{E5}"  # both side by side: each vector the two models' (bundled.py)
# The widths of a joined model's parts, in the order they sit side by side.
PARTS = {USE_E5: (512, 384)}


def parts_of(model: str) -> tuple[int, ...]:
    """The widths of a joined model's parts; () for a model of one part."""
    return PARTS.get(model, ())
