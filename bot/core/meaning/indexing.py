"""Keeping the stored vectors of signals in step with the language layer's model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.meaning.port import Embedder
from storage import vectors
from storage.db import Database

BATCH = 64  # signals embedded and stored per transaction


@dataclass(frozen=True)
class Reindexed:
    """What a reindex did: vectors stored now, signals still without one, and whether the layer
    stopped answering on the way (what was stored stays; running again goes on from there)."""

    stored: int
    remaining: int
    interrupted: bool


def pending(db: Database, embedder: Embedder) -> tuple[int, int]:
    """(signals with a vector of the current model, signals that could have one)."""
    with db.read() as session:
        return vectors.counts(session=session, model=embedder.name)


async def reindex(db: Database, embedder: Embedder, *, batch: int = BATCH,
                  progress: Callable[[int], None] = lambda done: None) -> Reindexed:
    """Embed and store every signal with a text and no vector of the current model, oldest
    first; `progress` hears how many were stored after each batch. The database calls block:
    this runs from the command line, not inside the serving loop."""
    stored = 0
    after = 0
    interrupted = False
    while True:
        with db.read() as session:
            rows = vectors.missing(session=session, model=embedder.name, after_id=after,
                                   limit=batch)
        if not rows:
            break
        found = await embedder.embed([text for _, text in rows])
        if found is None or len(found) != len(rows):
            interrupted = True
            break
        with db.write() as session:
            stored += vectors.store(session=session, model=embedder.name, vectors=[
                (signal_id, vector) for (signal_id, _), vector in zip(rows, found, strict=True)])
        after = rows[-1][0]
        progress(len(rows))
    indexed, total = pending(db, embedder)
    return Reindexed(stored, total - indexed, interrupted)
