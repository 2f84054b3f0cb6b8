"""The digest's SLA share and its median count the same hours, business hours, and say so:
a case routed on Friday at 17:00 and acknowledged on Monday at 10:00 took 2 business hours,
not 65."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from bot.core.capture.reports import Draft
from bot.core.reporting.digest import digest_figures, render_digest
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.core.shared.i18n import Translator
from jobs.excel import export_workbook
from tests.conftest import FakeClock
from tests.support.workbook import HEADERS, SHEETS

FRIDAY_17_MSK = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
MONDAY_10_MSK = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
WEEK = Week(2026, 48)


def test_the_median_counts_the_business_hours_the_sla_counts(service: VocService,
                                                             clock: FakeClock) -> None:
    clock.now = FRIDAY_17_MSK
    result = service.capture("slack:U0SALES1", Draft("complaint", "The courier was late"))
    clock.now = MONDAY_10_MSK
    service.acknowledge("slack:U0LOGHEAD", result.signal.ref)

    figures = digest_figures(service, WEEK)
    logistics = next(h for h in figures.loop if h.slug == "logistics")
    assert logistics.row.median_ack_hours == 2.0
    tz = service.company.timezone
    lines = {locale: next(line for line in render_digest(figures, Translator(locale, tz),
                                                         tz).footer if "Logistics" in line)
             for locale in ("en", "ru", "zh")}
    sla = f"{logistics.sla_hours:g}"
    assert f"within the SLA of {sla} business hours 100%" in lines["en"]
    assert "median 2.0 business hours to acknowledge" in lines["en"]
    assert f"SLA ({sla} рабочих ч) 100%" in lines["ru"]
    assert "медиана до принятия 2.0 рабочих ч" in lines["ru"]
    assert f"SLA（{sla} 个工作小时）内受理 100%" in lines["zh"]
    assert "受理中位时长 2.0 个工作小时" in lines["zh"]

    start, end = WEEK.bounds(tz)
    book = load_workbook(io.BytesIO(export_workbook(service, start=start, end=end,
                                                    t=Translator("en", tz))))
    departments = book.worksheets[SHEETS.index("Departments")]
    column = HEADERS["Departments"].index("Median business hours to acknowledge")
    rows = [[cell.value for cell in row] for row in departments.iter_rows(min_row=2)]
    assert next(row for row in rows if row[0] == "Logistics")[column] == 2.0
