"""The language port: texts in, one unit vector per text out, or nothing at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]  # one L2-normalised row per text


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors that are close when the texts mean the same, across languages.

    `name` identifies the model (stored beside each vector: vectors of two models are not
    comparable). `embed` returns None when the layer cannot answer now (an outage, a timeout,
    the model missing): the caller goes on without meaning and loses nothing.
    """

    @property
    def name(self) -> str: ...

    async def embed(self, texts: Sequence[str]) -> Vectors | None: ...

    def status(self) -> str: ...


class Off:
    """No language layer: every text goes on as before, by its words."""

    name = "off"

    async def embed(self, texts: Sequence[str]) -> Vectors | None:
        """Never any vectors."""
        return None

    def status(self) -> str:
        """The start-up line's words."""
        return "off: routing, \"me too\" and themes compare words"
