"""The language layer follows the departments file: a sync re-embeds the departments' profiles
in the running bot, and what meaning suggests changes with them, without a restart."""

from __future__ import annotations

import dataclasses
import re
import time
import zlib
from collections.abc import Sequence

import numpy as np
import pytest

from bot.core.meaning import Vectors, unit
from bot.core.routing.training import learn_meaning
from bot.core.service import Draft, VocService
from bot.core.shared import context
from bot.core.shared.company import Company
from bot.sync import sync_company
from storage.db import Database
from tests.conftest import FakeClock

KATE = "slack:U0SALES1"
PROBE = "Her xylophone plays out of tune"


class HashedWords:
    """An in-process embedder whose vectors are a text's words hashed into 4,096 slots: texts
    that share words are alike. It embeds in the calling thread, as the bundled model does."""

    name = "test-hashed-words"

    def status(self) -> str:
        return "hashed words"

    async def embed(self, texts: Sequence[str]) -> Vectors | None:
        return self.embed_now(texts)

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), 4096), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                rows[row, zlib.crc32(word.encode()) % 4096] += 1.0
        return unit(rows)


def best_department(service: VocService) -> str | None:
    service.meaning.vectors([PROBE])
    verdict = service.meaning.suggest(PROBE)
    return verdict.best if verdict is not None else None


def test_a_synced_departments_file_is_embedded_again_without_a_restart(
        db: Database, company: Company, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Capture reads the department rows again on every batch, not only after 30 seconds.
    monkeypatch.setattr(context, "DEPARTMENTS_TTL", 0.0)
    sync_company(db, company, now=clock())
    service = VocService(db, company, clock=clock, embedder=HashedWords())  # type: ignore[arg-type]
    learn_meaning(service)
    assert best_department(service) != "it"  # no department speaks of xylophones yet

    # The file now lists the word for IT, and is synced while the bot runs.
    synced = dataclasses.replace(company, departments=tuple(
        dataclasses.replace(d, keywords=(*d.keywords, "xylophone")) if d.slug == "it" else d
        for d in company.departments))
    sync_company(db, synced, now=clock())
    service.capture(KATE, Draft("complaint", "The store's door handle came off again"))
    deadline = time.monotonic() + 10
    while best_department(service) != "it" and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the condition: the profiles are embedded in a thread
    assert best_department(service) == "it"

    # A new routing model relearns meaning: the synced profiles stay, not the start's file.
    learn_meaning(service)
    assert best_department(service) == "it"


def test_unchanged_profiles_are_not_embedded_again(
        db: Database, company: Company, clock: FakeClock) -> None:
    sync_company(db, company, now=clock())
    service = VocService(db, company, clock=clock, embedder=HashedWords())  # type: ignore[arg-type]
    learn_meaning(service)
    assert service.meaning.router is not None
    embedded = service.meaning.router.departments
    # The database's rows say what the file said: nothing to embed.
    service.capture(KATE, Draft("complaint", "The store's door handle came off again"))
    assert service.meaning.follow([(d.slug, d.name, d.description, d.keywords)
                                   for d in company.departments]) is None
    assert service.meaning.router.departments is embedded
