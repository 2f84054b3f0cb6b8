"""The language layer as the core holds it: the embedder, the vectors of texts about to be
captured, the departments' vectors and the router by meaning built from the history.

Capture embeds a report's text before its transaction: from the event loop `prepare` asks the
embedder (the bundled model runs in a worker thread; an endpoint over HTTP); capture's worker
thread then finds the vector here, or embeds it in place where the embedder can
(`embed_now`: the bundled model). No vector means routing by words, as without the layer:
a capture never waits on an outage for longer than the endpoint's timeout, and is never lost.

numpy and the modules built on it are imported inside the methods that run with the layer on:
a bot with the layer off never loads them (tests/system/test_cli_lean.py holds it to that).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.core.meaning.models import USE, USE_E5
from bot.core.routing.keywords import script_of

if TYPE_CHECKING:  # numpy is loaded with the first vector: with the layer off, never
    from bot.core.meaning.maths import Verdict
    from bot.core.meaning.port import Embedder, Vectors
    from bot.core.meaning.routing import Departments, MeaningRouter

log = logging.getLogger(__name__)

REMEMBERED = 512  # texts embedded ahead of their capture, newest kept
CASES = 5000  # the nearest-case index's newest labelled cases (VOC_LANGUAGE_CASES)
MAX_MISROUTES = 0.05  # what the gate calibrated on the history allows
# The margin at which the departments' profiles decide alone, before the history can
# calibrate one: chosen on bench/routing.py's signals judged in order (misroutes <= 0.10), per
# model, because each model has its own scale of similarities. Another model: none (inf).
PROFILE_GATES = {USE: 0.0614, USE_E5: 0.0369}

Profile = tuple[str, str, str, Sequence[str]]  # a department's slug, name, description, keywords


def _same(profiles: Sequence[Profile]) -> frozenset[tuple[str, str, str, tuple[str, ...]]]:
    """What makes two lists of profiles embed alike (their order does not matter)."""
    return frozenset((slug, name, text, tuple(words)) for slug, name, text, words in profiles)


class Meaning:
    """What the core asks of the language layer; with `Off`, nothing ever has a vector."""

    def __init__(self, embedder: Embedder | None = None, *, cases: int = CASES) -> None:
        self.embedder = embedder
        self.cases = cases
        self.router: MeaningRouter | None = None
        self._departments: Departments | None = None
        self._profiles: frozenset[tuple[str, str, str, tuple[str, ...]]] = frozenset()
        self._following = False  # a thread is embedding changed profiles
        self._synced: list[Profile] | None = None  # as the database has them, once read
        self._remembered: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()  # the event loop prepares while capture threads read

    @property
    def on(self) -> bool:
        """False when the layer is off: every decision is by words."""
        return self.embedder is not None and self.embedder.name != "off"

    @property
    def model(self) -> str:
        """The model's name, stored beside each vector."""
        return self.embedder.name if self.embedder is not None else "off"

    async def prepare(self, texts: Sequence[str]) -> None:
        """Embed `texts` from the event loop ahead of their capture (nothing on an outage)."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._remembered]
        if self.embedder is not None and self.on and missing:
            self._remember(missing, await self.embedder.embed(missing))

    def vectors(self, texts: Sequence[str]) -> list[Vectors | None]:
        """Each text's vector: prepared, else embedded here where the embedder can (in the
        calling thread), else None."""
        if not self.on:
            return [None] * len(texts)
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._remembered]
        if missing:
            self._remember(missing, self.embed_now(missing))
        with self._lock:
            return [self._remembered.get(t) for t in texts]

    def embed_now(self, texts: Sequence[str]) -> Vectors | None:
        """Vectors computed in the calling thread, where the embedder can (None elsewhere)."""
        compute = getattr(self.embedder, "embed_now", None)
        if compute is None or not texts:
            return None
        try:
            found: Vectors = compute(list(texts))
        except (OSError, RuntimeError, ImportError, ValueError, MemoryError) as error:
            log.warning("the language layer cannot embed now (%s): words decide",
                        type(error).__name__)
            return None
        return found

    def departments(self, profiles: Sequence[Profile]) -> Departments | None:
        """The departments' vectors (slug, name, description, keywords): embedded once, and
        again when the profiles differ from those they were made of (the router by meaning
        takes the new ones at once). The profiles the database was last seen with (`follow`)
        come before the caller's: those of the file the bot started with."""
        profiles = self._synced or profiles
        changed = self._departments is None or _same(profiles) != self._profiles
        if self.on and profiles and changed:
            from bot.core.meaning.routing import Departments, department_texts  # numpy

            texts, keywords, owners = department_texts([p[1:] for p in profiles])
            found = [v for v in self.vectors(texts + keywords) if v is not None]
            if len(found) == len(texts) + len(keywords):
                import numpy as np

                rows = np.vstack(found)
                built = Departments.build([p[0] for p in profiles], rows[:len(texts)],
                                          rows[len(texts):], owners,
                                          [script_of(t) for t in texts + keywords])
                with self._lock:
                    self._departments, self._profiles = built, _same(profiles)
                    if self.router is not None:
                        self.router = replace(self.router, departments=built)
        return self._departments

    def follow(self, profiles: Sequence[Profile]) -> threading.Thread | None:
        """Embed the departments' profiles again, in a thread of their own, when they differ
        from those in use (a departments file synced while the bot runs): capture goes on with
        the old ones meanwhile. The thread, or None when nothing changed, the profiles were
        never embedded (learning embeds them), or a thread is at it already. An embedder
        that answers only on the event loop (an endpoint) keeps the old ones until a restart."""
        chosen = list(profiles)
        with self._lock:
            self._synced = chosen
            if (not self.on or self._departments is None or self._following
                    or _same(chosen) == self._profiles):
                return None
            self._following = True

        def embed() -> None:
            before = self._departments
            try:
                if self.departments(chosen) is not before:
                    log.info("the departments' profiles changed: embedded again")
            finally:
                with self._lock:
                    self._following = False

        thread = threading.Thread(target=embed, name="meaning-departments", daemon=True)
        thread.start()
        return thread

    def learn(self, departments: Departments, history: Sequence[tuple[int, str, Vectors]],
              triage: str, scripts: Sequence[str] = ()) -> MeaningRouter:
        """The router by meaning for a history of (case id, department, vector), oldest first,
        and each case's script (`script_of`; none given: never centred): its newest `cases`,
        with weight and gate calibrated on them judged in order; while the history is too
        short to calibrate, the profiles decide alone at the model's gate."""
        from bot.core.meaning.maths import CaseIndex  # numpy: the layer is on
        from bot.core.meaning.routing import MIN_JUDGED, MeaningRouter

        router = MeaningRouter.of_history(departments, history, scripts, triage,
                                          self.cases).calibrated(MAX_MISROUTES)
        if router.gate == math.inf and len(router.judged()) < MIN_JUDGED:
            router = MeaningRouter(departments, CaseIndex.build([], 0), triage, 1.0,
                                   PROFILE_GATES.get(self.model, math.inf))
        self.router = router
        return router

    def suggest(self, text: str) -> Verdict | None:
        """The department the text means (`slug` None: unsure), if it has a vector."""
        with self._lock:
            vector = self._remembered.get(text)
        if vector is None or self.router is None:
            return None
        return self.router.suggest(vector, script_of(text))

    def _remember(self, texts: Sequence[str], found: Vectors | None) -> None:
        if found is None or len(found) != len(texts):
            return
        import numpy as np

        with self._lock:
            for text, vector in zip(texts, found, strict=True):
                self._remembered[text] = np.asarray(vector, dtype=np.float32)
                self._remembered.move_to_end(text)
            while len(self._remembered) > REMEMBERED:
                self._remembered.popitem(last=False)



class Stored:
    """A layer that embeds nothing and names the model whose stored vectors are read (the
    digest's child process: themes by meaning without loading the model)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def embed(self, texts: Sequence[str]) -> Vectors | None:
        """Never any new vectors."""
        return None

    def status(self) -> str:
        """The start-up line's words."""
        return f"stored vectors of {self.name}"
