"""Departments named in each reader's language: `[department.names]` in the departments file
(`ru = "Логистика"`, `zh = "物流"`; the plain `name` for any other language), on cards, answers
and menus in Slack and Telegram, in the terminal chat's who-am-I line, in the digest and the
workbook (its Events sheet too); an unknown language code is refused at its line."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from bot.core.capture.reports import Draft
from bot.core.reporting.digest import digest_figures, render_digest
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.core.shared.company import Company
from bot.departments import DepartmentsFileError, parse_company
from bot.sync import sync_company
from jobs.excel import export_workbook
from storage.db import Database
from tests.adapters.test_telegram_flows import ANNA, LOGISTICS, running_bot
from tests.conftest import FakeClock
from tests.support.department_names import with_names
from tests.support.dialog import TerminalDialog
from tests.support.fake_slack import NEW_EN, running_workspace
from tests.support.workbook import SHEETS


@pytest.fixture
def named() -> Company:
    return parse_company(with_names(), source="departments.toml")


def test_names_per_language_are_read_and_unknown_languages_refused(named: Company) -> None:
    logistics = named.department("logistics")
    assert logistics is not None
    assert [logistics.name_in(lang) for lang in ("en", "ru", "zh")] == [
        "Logistics", "Логистика", "物流"]

    text = with_names('[department.names]\nru = "Логистика"\nde = "Logistik"\n')
    with pytest.raises(DepartmentsFileError) as refused:
        parse_company(text, source="departments.toml")
    problem = refused.value.problems[0]
    assert problem.line == text.splitlines().index("[department.names]") + 1
    assert problem.field == "names" and problem.department == "logistics"
    assert "'de'" in problem.message and "en, ru, zh" in problem.message


def test_slack_cards_and_answers_name_the_department_in_each_language(
        db: Database, named: Company) -> None:
    with running_workspace(db, named) as workspace:
        chinese = workspace.user("U0PRODHEAD").say("complaint The courier was late again")
        assert "物流" in chinese and "Logistics" not in chinese
        english = workspace.user(NEW_EN).say("complaint The courier was late")
        assert "went to Logistics" in english
        card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")  # the company: ru
        assert "Логистика" in card.plain and "Logistics" not in card.plain


def test_telegram_cards_and_answers_name_the_department_in_russian(
        db: Database, named: Company, clock: FakeClock) -> None:
    sync_company(db, named, now=clock())
    with running_bot(VocService(db, named, clock=clock)) as bot:
        bot.say(ANNA, "/complaint Курьер опоздал на 3 часа")
        bot.fake.expect(ANNA.id, r"Жалоба VOC-1 передана в отдел «Логистика»")
        card = bot.fake.expect(LOGISTICS, r"VOC-1")
        assert "Логистика" in card["text"] and "Logistics" not in card["text"]


def test_the_digest_and_workbook_use_the_readers_names(db: Database, named: Company,
                                                       clock: FakeClock) -> None:
    sync_company(db, named, now=clock())
    service = VocService(db, named, clock=clock)
    service.capture("slack:U0SALES1", Draft("complaint", "The courier was late"))
    week = Week.containing(clock(), named.timezone)
    figures = digest_figures(service, week)
    chinese = render_digest(figures, service.translator("zh"), named.timezone).plain_text()
    assert re.search(r"物流：分派 1", chinese), chinese
    start, end = week.bounds(named.timezone)
    book = load_workbook(io.BytesIO(export_workbook(service, start=start, end=end,
                                                    t=service.translator("ru"))))
    departments = book.worksheets[SHEETS.index("Departments")]
    assert "Логистика" in [row[0].value for row in departments.iter_rows(min_row=2)]


def test_the_terminal_says_who_you_are_with_the_departments_in_your_language(
        db: Database, named: Company, clock: FakeClock) -> None:
    sync_company(db, named, now=clock())
    chat = TerminalDialog(VocService(db, named, clock=clock), named, "slack:U0SALES1")
    try:
        chat.expect(r"Kate Brown> ")
        chat.say("/as Olga")  # Olga Petrova reads Russian and heads logistics
        line = chat.expect(r"Вы — Olga Petrova \(slack:U0LOGHEAD\)[^\n]*").group(0)
        assert "руководитель: Логистика" in line and "logistics" not in line, line
        chat.say("/as Ivan Kuznetsov")  # a member of logistics, in Russian
        line = chat.expect(r"Вы — Ivan Kuznetsov[^\n]*").group(0)
        assert line.endswith("— Логистика"), line
    finally:
        chat.say("/quit")
        chat.close()


def test_the_events_sheet_names_departments_in_the_readers_language(
        db: Database, named: Company, clock: FakeClock) -> None:
    sync_company(db, named, now=clock())
    service = VocService(db, named, clock=clock)
    ref = service.capture("slack:U0SALES1", Draft("complaint", "The courier was late")).signal.ref
    service.reassign("slack:U0LOGHEAD", ref, "it", "The tracking page is broken")
    book = load_workbook(io.BytesIO(export_workbook(service, t=service.translator("ru"))))
    details = [str(row[4].value) for row in
               book.worksheets[SHEETS.index("Events")].iter_rows(min_row=2)]
    assert any("Логистика" in text and "IT" in text for text in details), details
    assert not any("Logistics" in text for text in details), details
