"""Routing with the language layer: the words' answer (keywords and the learned model) blended
with the router by meaning (bot/core/meaning/routing.py).

Meaning decides where it passes its gate (calibrated on the company's history judged in order,
or the model's profile gate while the history is short), against the words' answer only by
`OVERRULE` more; below its gate, the words' answer
stands only where meaning's best department (gated or not) is the same, else the
report goes to triage. Without a vector (the layer off, an outage) the words decide alone, as
before. bench/routing.py measures each part and the blend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.routing.keywords import Suggestion
from bot.core.shared.context import Core

if TYPE_CHECKING:
    from bot.core.meaning.maths import Verdict

# Meaning overrules the words' answer only when it leads by its gate plus this much (no history:
# 0.0 misroutes 0.117, 0.02 0.110, 0.04 0.103, 0.08 0.099 at accuracy 0.603 to 0.576).
OVERRULE = 0.04


def suggest(core: Core, text: str) -> Suggestion:
    """The department for the text, and what decided: the words, a past case, or meaning."""
    return combine(core.router.suggest(text), core.meaning.suggest(text), core.company.triage)


def combine(words: Suggestion, meaning: Verdict | None, triage: str) -> Suggestion:
    """The blend of the words' suggestion and meaning's verdict (None: no vector)."""
    if meaning is None:
        return words
    words_unsure = words.is_fallback or words.slug == triage
    if meaning.slug is not None and meaning.slug != triage:
        if meaning.slug == words.slug and not words_unsure:
            return words  # both agree: the words name the reason
        if not words_unsure and meaning.margin < meaning.gate + OVERRULE:
            return Suggestion(triage, (), True, by_meaning=True)  # they disagree: a person decides
        similar = (meaning.case_id,) if meaning.case_id is not None else ()
        return Suggestion(meaning.slug, (), False, similar, by_meaning=True)
    if words_unsure:
        return words
    # Meaning leaning to another department at all sends a words' answer to triage (leaning by
    # 0.02 or 0.06 or more instead: misroutes 0.133 and 0.174 rather than 0.117, bench/routing.py
    # with no history).
    if meaning.best != words.slug:
        return Suggestion(triage, (), True, by_meaning=True)
    return words
