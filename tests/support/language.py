"""The bundled model for the tests that need it for real, shared by the run's tests.

Each test that builds a company embeds the same department profiles again (about 300 texts,
4.5 s of CPU with multilingual-e5-small beside USE): the model remembers each text's vector
for the worker's session, so a profile is embedded once per worker. A batch that large is
also shared between the xdist workers through a file in the run's folder, under a lock: the
first worker embeds it, the others read it. The vectors are the model's own.
"""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.core.meaning import Vectors
from bot.language.bundled import BundledModel

SHARED_BATCH = 50  # fewer new texts than this are embedded here: reading the file costs more


class RememberingModel(BundledModel):
    """`BundledModel` that embeds each distinct text once, and large batches once a run."""

    def __init__(self, shared: Path | None = None) -> None:
        super().__init__()
        self._seen: dict[str, np.ndarray] = {}
        self._shared = shared / f"vectors-{self.name}.pickle" if shared else None

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        new = [text for text in dict.fromkeys(texts) if text not in self._seen]
        if self._shared is not None and len(new) >= SHARED_BATCH:
            self._embed_shared(new, self._shared)
        elif new:
            self._seen.update(zip(new, super().embed_now(new), strict=True))
        if not texts:
            return super().embed_now([])
        return np.vstack([self._seen[text] for text in texts])

    def _embed_shared(self, new: list[str], path: Path) -> None:
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            shared: dict[str, np.ndarray] = (pickle.loads(path.read_bytes())
                                             if path.exists() else {})
            missing = [text for text in new if text not in shared]
            if missing:
                shared.update(zip(missing, super().embed_now(missing), strict=True))
                path.with_suffix(".writing").write_bytes(pickle.dumps(shared))
                os.replace(path.with_suffix(".writing"), path)
            self._seen.update((text, shared[text]) for text in new)
