"""Departments named in each reader's language: `[department.names]` in the departments file
(`ru = "Логистика"`, `zh = "物流"`; the plain `name` for any other language), on cards, answers
and menus in Slack and Telegram, in the digest and the workbook; an unknown language code is
refused at its line."""

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
from tests.conftest import EXAMPLE_COMPANY, FakeClock
from tests.support.fake_slack import NEW_EN, running_workspace
from tests.support.workbook import SHEETS

NAMES = '[department.names]\nru = "Логистика"\nzh = "物流"\n'


def with_names(names: str = NAMES) -> str:
    """The example file with `names` as the logistics department's sub-table."""
    text = EXAMPLE_COMPANY.read_text(encoding="utf-8")
    start = text.index('slug = "logistics"')
    end = text.index("[[", start)
    return text[:end] + names + "\n" + text[end:]


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
