"""Dates in each reader's language, in the locale's own order: "11月24日" in Chinese (not
"24 11月"), "24 нояб." in Russian; on cards, in the digest's title and on the chart."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlmodel import select

from bot.core.capture.reports import Draft
from bot.core.presentation.messages import OutboundMessage
from bot.core.reporting.digest import digest_figures, render_digest
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.core.shared.company import Company
from bot.core.shared.i18n import Translator
from bot.sync import sync_company
from jobs.charts import digest_figure
from storage.db import Database
from storage.models import Outbox
from tests.conftest import FakeClock

WEEK = Week(2026, 47)  # Mon 16 Nov - Sun 22 Nov 2026


def card_text(db: Database, channel: str, ref: str) -> str:
    with db.read() as session:
        rows = session.exec(select(Outbox).where(Outbox.destination == channel)).all()
    texts = [OutboundMessage.from_json(row.payload["message"]).plain_text() for row in rows
             if "message" in row.payload]
    return next(text for text in texts if ref in text)


@pytest.mark.parametrize(("locale", "due", "wrong"), [
    ("zh", r"11月2\d日 \d\d:\d\d", r"\d+ 11月"),
    ("ru", r"2\d нояб\., \d\d:\d\d", r"нояб\. \d+"),
    ("en", r"Nov 2\d, \d\d:\d\d", r"\d+ Nov"),
])
def test_a_cards_due_date_is_in_the_locales_own_order(db: Database, company: Company,
                                                      clock: FakeClock, locale: str, due: str,
                                                      wrong: str) -> None:
    speaking = replace(company, locale=locale)
    sync_company(db, speaking, now=clock())
    service = VocService(db, speaking, clock=clock)
    service.capture("slack:U0SALES1", Draft("complaint", "The courier was late"))
    text = card_text(db, "slack:C0LOGISTICS", "VOC-1")
    assert re.search(due, text), text
    assert not re.search(wrong, text), text


def test_the_digest_names_its_week_in_each_language(service: VocService) -> None:
    figures = digest_figures(service, WEEK)
    tz = service.company.timezone
    chinese = render_digest(figures, Translator("zh", tz), tz).plain_text()
    russian = render_digest(figures, Translator("ru", tz), tz).plain_text()
    assert "（11月16日 – 11月22日）" in chinese
    assert "16 нояб. – 22 нояб." in russian


def test_the_chart_marks_each_week_by_its_monday_in_the_readers_pattern(
        service: VocService) -> None:
    figures = digest_figures(service, WEEK)
    zh = digest_figure(figures, Translator("zh", service.company.timezone))
    labels = [tick.get_text() for tick in zh.axes[1].get_xticklabels()]
    assert labels[-1] == "W47\n11月16日" and labels[0] == "W36\n8月31日"
