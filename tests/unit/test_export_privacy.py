"""The workbook keeps the bot's promises. The pulse question says "Leadership
sees only totals, never who answered": pulse answers are exported only as totals per rated
department and round, from the digest's floor of respondents up; an anonymous reporter is
named nowhere, not even through the department of their handling rating."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import update

from bot.core.reporting.digest import MIN_RESPONDENTS
from bot.core.service import Draft, VocService
from bot.core.shared.i18n import Translator
from jobs.excel import count_rows, export_workbook
from storage.db import Database
from storage.models import Event
from tests.conftest import FakeClock
from tests.support.workbook import HEADERS, SHEETS
from tests.unit.test_export_safety import digest_workbook

KATE, IVAN, OLGA = "slack:U0SALES1", "slack:U0LOG1", "slack:U0LOGHEAD"
SUP1, FINHEAD, SALESHEAD = "slack:U0SUP1", "slack:U0FINHEAD", "slack:U0SALESHEAD"
SECRET_COMMENT = "Logistics lost the Acme order, again"


def rows_of(content: bytes, sheet: str) -> list[dict[str, Any]]:
    """The sheet's data rows as {English header: value}."""
    ws = load_workbook(io.BytesIO(content)).worksheets[SHEETS.index(sheet)]
    return [{name: row[i] if i < len(row) else None for i, name in enumerate(HEADERS[sheet])}
            for row in ws.iter_rows(min_row=2, values_only=True)]


def every_cell(content: bytes) -> list[Any]:
    book = load_workbook(io.BytesIO(content))
    return [value for ws in book for row in ws.iter_rows(values_only=True) for value in row]


def pulses_and_cases(service: VocService, clock: FakeClock) -> tuple[str, str, datetime]:
    """Four people rate IT and two rate Logistics in the 2026-11 pulse; Kate rates the handling
    of an anonymous complaint and of a named one. Returns (anonymous ref, named ref, the time
    of the last IT answer)."""
    for person, value in ((KATE, 9), (SUP1, 10), (IVAN, 3), (FINHEAD, 8)):
        clock.advance(minutes=30)
        service.answer_pulse(person, "2026-11:it", value, "fine" if value > 8 else None)
    last_it_answer = clock()
    clock.advance(minutes=30)
    service.answer_pulse(KATE, "2026-11:logistics", 0, SECRET_COMMENT)
    service.answer_pulse(SUP1, "2026-11:logistics", 10)
    hidden = service.capture(KATE, Draft("complaint", "The courier delivery was three hours late",
                                         anonymous=True)).signal.ref
    named = service.capture(SALESHEAD, Draft("complaint", "The courier was late")).signal.ref
    for ref, rating in ((hidden, 2), (named, 7)):
        service.resolve(OLGA, ref, "Talked to the courier")
        service.rate(KATE if ref == hidden else SALESHEAD, ref, rating)
    return hidden, named, last_it_answer


def check_pulses(content: bytes, t: Translator) -> None:
    scores = rows_of(content, "Scores")
    pulse = [row for row in scores if row["Source"] == t.gettext("pulse")]
    # never one row per answer: no score, no comment, no rating department, no second
    assert all(row["Score"] is None and row["Rating department"] is None for row in pulse)
    assert SECRET_COMMENT not in every_cell(content) and "fine" not in every_cell(content)
    by_department = {row["Rated department"]: row for row in pulse}
    assert len(pulse) == len(by_department) == 2, pulse
    it = by_department["IT"]
    assert (it["Pulse round"], it["Answers"], it["Internal NPS"]) == ("2026-11", 4, 25)
    assert it["At"] == datetime(2026, 11, 1)  # the round, not the moment of an answer
    logistics = by_department["Logistics"]  # two people: below the digest's floor
    assert (logistics["Answers"], logistics["Internal NPS"], logistics["Margin ±"]) == (
        None, None, None)
    assert logistics["Comment"] == t.gettext("fewer than %(min)d people answered, not shown"
                                             ) % {"min": MIN_RESPONDENTS}


def check_anonymity(content: bytes, hidden: str, named: str, t: Translator) -> None:
    scores = rows_of(content, "Scores")
    handling = {row["Signal"]: row for row in scores if row["Source"] == t.gettext("handling")}
    assert handling[named]["Rating department"] == "Sales"
    assert handling[hidden]["Rating department"] is None  # Kate's department stays unsaid
    assert (handling[hidden]["Rated department"], handling[hidden]["Score"]) == (
        "Logistics", 2)

    signal = next(r for r in rows_of(content, "Signals") if r["Ref"] == hidden)
    anonymous = t.gettext("anonymous")
    assert signal["Reported by"] == anonymous
    events = [r for r in rows_of(content, "Events") if r["Ref"] == hidden]
    assert {r["Action"] for r in events} >= {t.gettext(a) for a in ("captured", "resolved",
                                                                   "rated")}
    assert all(r["By"] in (anonymous, "Olga Petrova", None) for r in events), events
    assert "Kate Brown" not in {v for r in [*events, signal] for v in r.values()}


def test_pulse_answers_are_exported_only_as_totals_above_the_floor(
        service: VocService, db: Database, clock: FakeClock) -> None:
    pulses_and_cases(service, clock)
    check_pulses(export_workbook(service, t=service.translator("en")), service.translator("en"))
    check_pulses(digest_workbook(service, db, clock), service.translator())  # leadership's copy


def test_an_anonymous_reporter_is_named_nowhere_not_even_by_department(
        service: VocService, db: Database, clock: FakeClock) -> None:
    hidden, named, _ = pulses_and_cases(service, clock)
    english = service.translator("en")
    check_anonymity(export_workbook(service, t=english), hidden, named, english)
    check_anonymity(digest_workbook(service, db, clock), hidden, named, service.translator())


def test_a_narrow_date_range_cannot_single_out_an_answer(
        service: VocService, clock: FakeClock) -> None:
    *_, last_it_answer = pulses_and_cases(service, clock)
    # The range holds one IT answer only: the totals still cover the whole round.
    content = export_workbook(service, start=last_it_answer,
                              end=last_it_answer.replace(second=1), t=service.translator("en"))
    pulse = {r["Rated department"]: r for r in rows_of(content, "Scores")
             if r["Source"] == "pulse"}
    assert (pulse["IT"]["Answers"], pulse["IT"]["Internal NPS"]) == (4, 25)
    assert all(r["Score"] is None for r in pulse.values())
    assert count_rows(service, start=last_it_answer, end=last_it_answer.replace(second=1)) == 2


def test_the_reporters_own_events_stay_anonymous_after_accounts_are_merged(
        service: VocService, db: Database, clock: FakeClock) -> None:
    hidden, *_ = pulses_and_cases(service, clock)
    # An account merge can leave the capture's actor a person other than the signal's reporter.
    ivan = service.person(IVAN)
    assert ivan is not None
    with db.engine.begin() as connection:
        connection.execute(update(Event.__table__).where(  # type: ignore[attr-defined]
            Event.__table__.c.action.in_(("captured", "rated"))).values(  # type: ignore[attr-defined]
            actor_id=ivan.id))
    events = [r for r in rows_of(export_workbook(service, t=service.translator("en")), "Events")
              if r["Ref"] == hidden and r["Action"] in ("captured", "rated")]
    assert [r["By"] for r in events] == ["anonymous", "anonymous"]
