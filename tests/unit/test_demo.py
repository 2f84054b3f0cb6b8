"""`voc demo` history reads like a real company's: most departments keep their loop closed, a
couple struggle, and the digest's verbatims are distinct stories."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.reporting.digest import digest_figures
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.demo import DemoReport


@pytest.mark.slow  # eight weeks of history, 300 reports
def test_the_demo_digest_shows_healthy_and_struggling_departments(
        service: VocService, demo: Callable[..., DemoReport]) -> None:
    report = demo(signals=300, weeks=8)  # the rows test_workbook_print fills too: one fill
    assert report.signals == 300
    figures = digest_figures(service, Week.last_complete(service.clock(),
                                                         service.company.timezone))
    overdue = {h.slug for h in figures.loop if h.row.open_overdue}
    on_time = {h.slug for h in figures.loop
               if not h.row.open_overdue and (h.within_sla is None or h.within_sla >= 0.95)}
    assert len(on_time) >= 3, f"too few healthy departments: overdue {overdue}"
    assert overdue <= {"finance", "sales", "product", "marketing"}, overdue
    for verbatims in (figures.praise, figures.complaints):
        texts = [v.text.casefold() for v in verbatims]
        assert len(texts) == len(set(texts)), texts


def test_a_story_reported_twice_in_a_week_is_one_verbatim(service: VocService) -> None:
    from bot.core.capture.reports import Draft

    for reporter in ("slack:U0SALES1", "slack:U0LOG1"):
        service.capture(reporter, Draft("praise", "Support solved it in one call", score=10))
    service.capture("slack:U0SALES1", Draft("praise", "The oak table is beautiful", score=9))
    service.clock.advance(days=7)  # type: ignore[attr-defined]
    figures = digest_figures(service, Week.last_complete(service.clock(),
                                                         service.company.timezone))
    assert [v.text for v in figures.praise] == ["Support solved it in one call",
                                                "The oak table is beautiful"]
