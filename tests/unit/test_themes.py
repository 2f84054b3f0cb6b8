"""Rising themes in the weekly digest: terms whose share of complaints grew
most against the previous four weeks, with counts and an example, in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.reporting import themes
from bot.core.reporting.digest import digest_figures, head_digest, render_digest
from bot.core.reporting.periods import Week
from bot.core.service import Draft, VocService
from tests.conftest import FakeClock

IVAN = "slack:U0LOG1"
MONDAY = datetime(2026, 11, 16, 9, tzinfo=UTC)  # week 2026-W47


def complaint(n: int, text: str, weeks_ago: int = 0) -> themes.Complaint:
    return themes.Complaint(n, text, 1, MONDAY - timedelta(weeks=weeks_ago, minutes=-n))


def test_the_term_that_grew_most_comes_first_with_its_count_and_newest_example() -> None:
    week = [complaint(1, "The courier was late and rude"),
            complaint(2, "Courier late again, the sofa was fine"),
            complaint(3, "Couriers late for the third time"),
            complaint(4, "The sofa fabric pills"),
            complaint(5, "The sofa fabric is thin")]
    before = [complaint(10 + n, "The sofa fabric pills", weeks_ago=2) for n in range(6)]
    before += [complaint(20 + n, "Payment failed", weeks_ago=3) for n in range(6)]
    rising = themes.rising(week, before)
    assert rising[0].label in ("courier late", "Courier late".lower())
    assert (rising[0].count, rising[0].example) == (3, 3)
    assert rising[0].share == 0.6 and rising[0].before == 0.0
    labels = [t.label for t in rising]
    assert "courier" not in labels and "late" not in labels  # the same theme, shown once
    assert "fabric" not in labels  # as common as before: not rising
    assert not {"the", "was", "and", "for"} & set(" ".join(labels).split())


def test_stop_words_are_removed_in_russian_and_chinese() -> None:
    week = [complaint(1, "Курьер опять опоздал, и это уже не первый раз"),
            complaint(2, "Курьер опоздал на два часа, и никто не позвонил"),
            complaint(3, "送货司机又迟到了，我们等了一上午"),
            complaint(4, "送货司机迟到了两个小时")]
    labels = [t.label for t in themes.rising(week, [])]
    # The two Chinese complaints share "送货司机" and "司机迟到": one theme, its first phrase.
    assert labels == ["курьер опоздал", "送货司机"]
    words = " ".join(labels).split()
    assert not {"и", "не", "это", "уже", "了", "我们"} & set(words)


def test_nothing_rises_without_complaints_or_below_two() -> None:
    assert themes.rising([], []) == ()
    assert themes.rising([complaint(1, "The courier was late")], []) == ()


def test_the_digests_show_rising_themes_in_the_readers_language(
        service: VocService, clock: FakeClock) -> None:
    clock.now = MONDAY - timedelta(weeks=3)
    for n in range(4):
        service.capture(IVAN, Draft(kind="complaint", text=f"Payment failed at checkout {n}"))
    clock.now = MONDAY + timedelta(days=1)
    refs = [service.capture(IVAN, Draft(kind="complaint", text=text)).signal.ref for text in (
        "The courier was late with the wardrobe", "Courier late again, two hours",
        "Courier late by an hour and did not call")]
    figures = digest_figures(service, Week(2026, 47))
    english = render_digest(figures, service.translator("en"), "Europe/Moscow").plain_text()
    assert "Rising themes in complaints, against the previous 4 weeks:" in english
    assert f"“courier late”: 3 complaints (100%, before 0%), e.g. {refs[-1]}" in english
    russian = render_digest(figures, service.translator("ru"), "Europe/Moscow").plain_text()
    assert "Растущие темы жалоб" in russian
    assert f"3 жалобы (100%, до этого 0%), например {refs[-1]}" in russian
    head = head_digest(service, "logistics", figures, service.translator("en")).plain_text()
    assert "“courier late”: 3 complaints" in head
    finance = head_digest(service, "finance", figures, service.translator("zh")).plain_text()
    assert "本周没有上升的主题" in finance
