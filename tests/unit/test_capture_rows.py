"""Capture writes with Core and builds its views from what it wrote
(bot/core/capture/reports.py): both must match what the ORM reads back, for the reporter and
in the department's cards."""

from __future__ import annotations

import json

import pytest
from sqlmodel import col, select

from bot.core.presentation import render
from bot.core.presentation.visibility import signal_view
from bot.core.service import Draft, VocService
from storage.db import Database
from storage.models import Event, Outbox, Score, Signal

IVAN = "slack:U0LOG1"
NEWCOMER = "telegram:777"  # no person yet: created during the capture


@pytest.mark.parametrize(("actor", "anonymous", "score", "department"), [
    (IVAN, False, None, None),
    (IVAN, True, 3, None),
    (NEWCOMER, True, None, "it"),
    (NEWCOMER, False, 9, None),
])
def test_capture_matches_what_the_orm_reads_back(
        service: VocService, db: Database, actor: str, anonymous: bool, score: int | None,
        department: str | None) -> None:
    draft = Draft("complaint", "The courier was late again", customer="ACME", score=score,
                  anonymous=anonymous, source_link="https://example.com/t/1",
                  department=department, dedupe_key="slack:Ev1")
    result = service.capture(actor, draft)

    assert not result.duplicate
    assert result.signal == service.show(actor, result.signal.ref)
    with db.read() as session:
        signal = session.get(Signal, result.signal.id)
        assert signal is not None
        assert signal.routing["card"] == 0 and signal.dedupe_key == "slack:Ev1"
        routed = session.exec(select(Event).where(Event.signal_id == signal.id)
                              .order_by(col(Event.id))).all()
        assert [e.action for e in routed] == ["captured", "routed"]
        assert routed[1].details == {
            "to": result.signal.department.slug,
            "to_name": result.signal.department.name,
            **{k: v for k, v in signal.routing.items() if k != "card"}}
        stored = session.exec(select(Score).where(Score.signal_id == signal.id)).all()
        assert [(s.value, s.dedupe_key) for s in stored] == (
            [(score, f"signal:{signal.id}")] if score is not None else [])
        card = json.loads(json.dumps(render.card(signal_view(service, session, signal, viewer=None),
                                                 service.translator()).to_json()))
        rows = session.exec(select(Outbox).order_by(col(Outbox.id))).all()
    assert rows
    for row in rows:
        assert row.dedupe_key == f"card:{routed[1].id}@{row.destination}"
        assert row.card_key == (f"card:{signal.id}:{result.signal.department.slug}:0"
                                f"@{row.destination}")
        assert row.payload == {"message": card}

    again = service.capture(actor, draft)
    assert again.duplicate and again.signal == result.signal
