"""The weekly digest through the scheduler's own job, delivered to Slack exactly once.

The scheduled path: `Scheduler.digest()` (what APScheduler fires at `[company] digest`) queues
the digest through the outbox; the running server's dispatcher posts it to the fake Slack.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.core.service import VocService
from jobs.scheduler import Scheduler
from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    Workspace,
    slack_workspace,
)

LEADERS, OLGA = "C0LEADERS", "U0LOGHEAD"


def test_the_scheduled_digest_reaches_slack_once(workspace: Workspace):
    service = workspace.service
    last_week = VocService(service.db, service.company,
                           clock=lambda: service.clock() - timedelta(days=7))
    for value in (10, 9, 3):
        last_week.record_score("slack:U0SALES1", value, customer="Acme Corp")
    scheduler = Scheduler(service)

    first = asyncio.run(scheduler.digest())

    assert "leadership" in first.posted and first.skipped == []
    t = service.translator()  # the leadership channel reads the company's language
    title = t.gettext("Weekly VoC digest, %(period)s").split("%(")[0]
    digest = workspace.slack.wait_for_message(LEADERS, title)
    assert t.gettext("Customer NPS") in digest.plain
    uploads = workspace.slack.wait(
        lambda: [f["filename"] for m in workspace.slack.in_channel(LEADERS) for f in m.files]
        if len([m for m in workspace.slack.in_channel(LEADERS) if m.files]) >= 2 else None,
        what="the chart and the workbook")
    assert sorted(name.rsplit(".", 1)[1] for name in uploads) == ["png", "xlsx"]
    olga = service.translator(service.person(f"slack:{OLGA}").locale)  # type: ignore[union-attr]
    assert workspace.slack.wait_for_message("D" + OLGA, "Logistics")  # her department's digest
    assert olga.locale == "ru"

    queued = len(workspace.outbox())
    again = asyncio.run(scheduler.digest())  # a second replica, or a catch-up after restart

    assert again.posted == [] and "leadership" in again.skipped
    assert len(workspace.outbox()) == queued  # nothing new queued, so nothing more to post
    workspace.slack.wait(lambda: all(  # the first run's Slack copies finish delivering
        r.status == "sent" for r in workspace.outbox()
        if r.dedupe_key.startswith("digest:") and r.platform == "slack"), what="delivered")
    assert len([m for m in workspace.slack.in_channel(LEADERS) if title in m.plain]) == 1
    assert len([m for m in workspace.slack.in_channel(LEADERS) if m.files]) == 2
    digest_rows = [r for r in workspace.outbox() if r.dedupe_key.startswith("digest:")]
    # Slack's copies are delivered; Telegram's wait for a Telegram adapter (none runs here).
    assert {r.status for r in digest_rows if r.platform == "slack"} == {"sent"}
    assert {r.status for r in digest_rows if r.platform == "telegram"} <= {"pending"}
