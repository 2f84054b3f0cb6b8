"""A department named in the reader's language in a case's history and in a refusal: the
departments file's `[department.names]` (logistics: ru "Логистика"), found from the slug an
event keeps; an event stored with the name only (before it kept the slug) shows that name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.capture.reports import Draft
from bot.core.presentation.customer_story import story_reply
from bot.core.presentation.render import history_line
from bot.core.presentation.views import EventView
from bot.core.service import VocService
from bot.core.shared.errors import Forbidden, VocError
from bot.departments import parse_company
from bot.sync import sync_company
from storage.db import Database
from tests.conftest import FakeClock
from tests.support.department_names import with_names

KATE, OLGA, IT_HEAD = "slack:U0SALES1", "slack:U0LOGHEAD", "slack:U0ITHEAD"


@pytest.fixture
def named(db: Database, clock: FakeClock) -> VocService:
    company = parse_company(with_names(), source="departments.toml")
    sync_company(db, company, now=clock())
    return VocService(db, company, clock=clock)


def test_history_lines_name_the_department_in_the_readers_language(named: VocService) -> None:
    ref = named.capture(KATE, Draft("complaint", "The courier was late")).signal.ref
    named.ask(OLGA, ref, "Which order?")
    named.reassign(OLGA, ref, "it", "The tracking page is broken")
    history = named.show(IT_HEAD, ref).history
    russian = [history_line(event, named.translator("ru")) for event in history]
    english = [history_line(event, named.translator("en")) for event in history]

    assert any("Передано из «Логистика» в «IT»" in line for line in russian), russian
    assert not any("Logistics" in line for line in russian), russian
    assert any("from Logistics to IT" in line for line in english), english
    asked = next(event for event in history if event.action == "asked")
    assert asked.details.get("department_slug") == "logistics"  # kept for new events


def test_an_event_stored_with_the_name_only_shows_that_name(named: VocService) -> None:
    ru = named.translator("ru")
    at = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    kept = EventView("asked", at, None, {"question": "Which order?", "department": "Logistics",
                                         "department_slug": "logistics"})
    older = EventView("asked", at, None, {"question": "Which order?", "department": "Logistics"})
    assert "Логистика" in history_line(kept, ru)
    assert "Logistics" in history_line(older, ru)


def test_a_refusal_names_the_department_in_the_readers_language(named: VocService) -> None:
    ref = named.capture(KATE, Draft("complaint", "The courier was late")).signal.ref
    with pytest.raises(Forbidden) as refused:
        named.acknowledge(IT_HEAD, ref)
    assert "«Логистика»" in refused.value.render(named.translator("ru"))
    assert "Logistics" in refused.value.render(named.translator("en"))
    with pytest.raises(Forbidden) as hidden:
        named.queue(KATE, "logistics")
    assert "«Логистика»" in hidden.value.render(named.translator("ru"))


def test_every_refusal_and_a_customers_story_name_the_department_in_russian(
        named: VocService) -> None:
    ru = named.translator("ru")
    ref = named.capture(KATE, Draft("complaint", "The courier was late", customer="Initech",
                                    department="logistics")).signal.ref
    other = named.capture(KATE, Draft("complaint", "The login page is down",
                                      department="it")).signal.ref
    with pytest.raises(VocError) as same_department:
        named.reassign(OLGA, ref, "logistics", "It is ours")
    with pytest.raises(VocError) as across:
        named.merge(IT_HEAD, other, ref)
    for refusal in (same_department.value, across.value):
        assert "Логистика" in refusal.render(ru), refusal.render(ru)
        assert "Logistics" in refusal.render(named.translator("en"))

    story = str(story_reply(named.customer_story("slack:U0ADMIN", "Initech"), ru).to_json())
    assert "Логистика" in story and "Logistics" not in story, story
