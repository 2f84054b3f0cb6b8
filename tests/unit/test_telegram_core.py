"""Core use cases the Telegram adapter needs: a chosen department, and checking before asking."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.core.service import Draft, VocService
from bot.core.shared.errors import Forbidden, InvalidTransition, NotFound
from bot.sync import sync_company
from storage.db import Database
from storage.models import Department, Signal
from tests.conftest import FakeClock

NEWCOMER = "telegram:777"  # nobody in the departments file


def test_a_newcomer_chooses_a_department_and_it_counts_everywhere(
        service: VocService, db: Database, clock: FakeClock) -> None:
    assert service.identify(NEWCOMER, display_name="Pavel").department is None
    person = service.choose_department(NEWCOMER, "logistics")
    assert person.department == "logistics"
    assert service.person(NEWCOMER) == person

    report = service.capture(NEWCOMER, Draft("complaint", "The sales manager was rude")).signal
    with db.read() as session:
        stored = session.get(Signal, report.id)
        logistics = session.exec(select(Department).where(Department.slug == "logistics")).one()
        assert stored is not None and stored.reporter_department_id == logistics.id
    with pytest.raises(Forbidden):  # reading a queue (customer data) needs the file's word
        service.queue(NEWCOMER)

    # A later sync of the departments file keeps the choice (the file says nothing of them).
    sync_company(db, service.company, now=clock())
    assert service.person(NEWCOMER).department == "logistics"  # type: ignore[union-attr]


def test_a_newcomer_may_change_their_choice(service: VocService) -> None:
    service.choose_department(NEWCOMER, "logistics")
    assert service.choose_department(NEWCOMER, "finance").department == "finance"


def test_people_the_file_places_cannot_choose(service: VocService) -> None:
    with pytest.raises(Forbidden, match="places you in Customer support"):
        service.choose_department("telegram:2001", "finance")  # Anna, support member
    assert service.person("telegram:2001").department == "support"  # type: ignore[union-attr]


def test_choosing_an_unknown_department_lists_the_known_ones(service: VocService) -> None:
    with pytest.raises(NotFound, match=r"Unknown department “nope”\. Known: .*logistics"):
        service.choose_department(NEWCOMER, "nope")


def test_check_refuses_exactly_what_the_action_would_refuse(service: VocService) -> None:
    ref = service.capture("telegram:2001",
                          Draft("complaint", "The courier was late again")).signal.ref
    with pytest.raises(Forbidden, match="Only the heads of Logistics"):
        service.check("telegram:2001", ref, "resolve")
    with pytest.raises(Forbidden, match="Only the heads of Logistics"):
        service.check(NEWCOMER, ref, "reassign")  # never seen: refused, not created
    assert service.person(NEWCOMER) is None
    assert service.check("telegram:1001", ref, "resolve").ref == ref
    with pytest.raises(Forbidden, match="Only the person who reported"):
        service.check("telegram:1001", ref, "reopen")
    with pytest.raises(InvalidTransition, match="is not resolved"):
        service.check("telegram:2001", ref, "reopen")
    assert service.check("telegram:2001", ref, "change_department").ref == ref

    service.acknowledge("telegram:1001", ref)
    with pytest.raises(InvalidTransition, match="already acknowledged"):
        service.check("telegram:1001", ref, "acknowledge")
    with pytest.raises(InvalidTransition, match="already being handled"):
        service.check("telegram:2001", ref, "change_department")
    service.resolve("telegram:1001", ref, "Replaced the courier")
    with pytest.raises(InvalidTransition, match="already resolved"):
        service.check("telegram:1001", ref, "resolve")
    assert service.check("telegram:2001", ref, "reopen").ref == ref
    with pytest.raises(NotFound):
        service.check("telegram:2001", "VOC-999", "rate")
