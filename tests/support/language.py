"""The bundled model for the tests that need it for real, shared by a worker's tests.

Each test that builds a company embeds the same department profiles again (a hundred texts,
about 3 s with multilingual-e5-small beside USE): the model remembers each text's vector for
the worker's session, so a profile is embedded once. The vectors are the model's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.core.meaning import Vectors
from bot.language.bundled import BundledModel


class RememberingModel(BundledModel):
    """`BundledModel` that embeds each distinct text once."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, np.ndarray] = {}

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        new = [text for text in dict.fromkeys(texts) if text not in self._seen]
        if new:
            self._seen.update(zip(new, super().embed_now(new), strict=True))
        if not texts:
            return super().embed_now([])
        return np.vstack([self._seen[text] for text in texts])
