"""Vectors of signals stored once per signal with their model, on SQLite and PostgreSQL:
`voc language reindex` (against an OpenAI-compatible endpoint on loopback), its progress and
its outage, `voc language status`, and erasing them with the texts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import update
from sqlmodel import col
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.core.meaning import unit
from bot.core.meaning.indexing import Reindexed, pending, reindex
from bot.core.service import Draft, VocService
from bot.language.endpoint import EndpointModel
from storage import vectors
from storage.db import Database
from storage.models import Signal
from tests.conftest import EXAMPLE_COMPANY
from tests.support.fake_embeddings import FakeEmbeddings, expected_vector

REPORTS = ["The courier was three hours late", "Курьер опоздал на три часа",
           "快递员晚到了三个小时", "Charged twice for one order", "Сайт не пускает в кабинет"]

runner = CliRunner()


def captured(service: VocService) -> list[int]:
    """The reports captured as staff would, their signal ids."""
    return [service.capture("slack:U0SALES1", Draft("complaint", text)).signal.id
            for text in REPORTS]


def run_reindex(db: Database, url: str, model: str = "bge-m3", batch: int = 2
                ) -> tuple[Reindexed, list[int]]:
    steps: list[int] = []
    embedder = EndpointModel(url, model)

    async def go() -> Reindexed:
        try:
            return await reindex(db, embedder, batch=batch, progress=steps.append)
        finally:
            await embedder.aclose()

    return asyncio.run(go()), steps


def test_reindex_stores_each_signals_vector_once_and_a_new_model_replaces_them(
        service: VocService, db: Database) -> None:
    ids = captured(service)
    with FakeEmbeddings() as server:
        result, steps = run_reindex(db, server.base_url)
        assert result == Reindexed(stored=5, remaining=0, interrupted=False)
        assert steps == [2, 2, 1]
        again, _ = run_reindex(db, server.base_url)
        assert again.stored == 0 and len(server.requests) == 3  # nothing left to ask for
        with db.read() as session:
            stored = vectors.read(session=session, model="bge-m3", signal_ids=ids)
        assert np.allclose(stored[ids[1]], unit([expected_vector(REPORTS[1])])[0])
        newer, _ = run_reindex(db, server.base_url, model="bge-m3-v2")
        assert newer.stored == 5
    with db.read() as session:
        assert vectors.read(session=session, model="bge-m3", signal_ids=ids) == {}
        assert len(vectors.read(session=session, model="bge-m3-v2", signal_ids=ids)) == 5


def test_an_outage_midway_keeps_what_was_stored_and_the_next_run_goes_on(
        service: VocService, db: Database) -> None:
    captured(service)
    with FakeEmbeddings() as server:
        server.status = 503
        down, _ = run_reindex(db, server.base_url)
        assert down == Reindexed(stored=0, remaining=5, interrupted=True)
        server.status = 200
        back, _ = run_reindex(db, server.base_url)
        assert back.stored == 5 and back.remaining == 0


def test_erased_texts_lose_their_vectors_and_are_not_indexed_again(
        service: VocService, db: Database) -> None:
    ids = captured(service)
    with FakeEmbeddings() as server:
        run_reindex(db, server.base_url)
        with db.write() as session:
            session.execute(update(Signal).where(col(Signal.id).in_(ids[:2])).values(
                text="", erased_at=datetime.now(UTC)))
            assert vectors.erase(session=session, signal_ids=ids[:2]) == 2
        again, _ = run_reindex(db, server.base_url)
    assert again.stored == 0
    assert pending(db, EndpointModel("http://127.0.0.1:1/v1", "bge-m3")) == (3, 3)


def invoke(*args: str, db_url: str, **settings: str):  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": db_url, "VOC_DEPARTMENTS": str(EXAMPLE_COMPANY),
           "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": "", **settings}
    return runner.invoke(cli, list(args), env=env)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_voc_language_status_and_reindex(service: VocService, db_url: str) -> None:
    captured(service)
    with FakeEmbeddings() as server:
        endpoint = {"VOC_LANGUAGE": "endpoint", "VOC_EMBEDDINGS_URL": server.base_url,
                    "VOC_EMBEDDINGS_MODEL": "bge-m3", "VOC_EMBEDDINGS_KEY": "sk-never-shown-1234"}
        before = invoke("language", "status", db_url=db_url, **endpoint)
        assert before.exit_code == 0, before.output
        assert "language layer: endpoint http://127.0.0.1" in before.output
        assert "Signals with vectors of bge-m3: 0 of 5; `voc language reindex`" in before.output
        done = invoke("language", "reindex", db_url=db_url, **endpoint)
        assert done.exit_code == 0, done.output
        assert "Indexed 5 signals" in done.output
        after = invoke("language", "status", db_url=db_url, **endpoint)
        assert "Signals with vectors of bge-m3: 5 of 5" in after.output
        assert all("sk-never-shown" not in r.output for r in (before, done, after))
    off = invoke("language", "reindex", db_url=db_url, VOC_LANGUAGE="off")
    assert off.exit_code == 2 and "The language layer is off" in off.output
    incomplete = invoke("language", "status", db_url=db_url, VOC_LANGUAGE="endpoint")
    assert incomplete.exit_code == 2 and "needs VOC_EMBEDDINGS_URL" in incomplete.output
