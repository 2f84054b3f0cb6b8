"""Posting the weekly digest: once per audience, with the chart and the workbook.

`post_digest` is the one code path for the scheduler and `voc digest --post`: each audience
(leadership, each department head) is claimed (`job_claim`: digest, "<week>:<audience>") in
the same transaction that queues its messages, so replicas and repeated commands post it once.
The figures, the text and who may see which are the core's (bot/core/reporting/digest.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.core.handling.reminders import leadership_destinations
from bot.core.people.directory import heads_of
from bot.core.presentation.messages import OutboundFile
from bot.core.reporting.digest import DigestFigures, digest_figures, head_digest, render_digest
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.core.shared.i18n import Translator
from bot.core.shared.rows import row_id
from jobs.dispatcher import file_payload
from storage import claims
from storage import queries as q
from storage.outbox import NewMessage, enqueue

log = logging.getLogger(__name__)


def head_audiences(service: VocService) -> list[tuple[str, int, str, str]]:
    """(department slug, person id, DM destination, locale) for every head of every active
    department, as the core knows them (bot/core/people/directory.py `heads_of`)."""
    with service.db.read() as session:
        return [(department.slug, head.person_id, head.identity, head.locale)
                for department in q.active_departments(session=session)
                for head in heads_of(service, session, row_id(department))]


@dataclass
class PostReport:
    """What one posting run queued, and what was already posted by another."""

    week: Week
    posted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A line for the CLI and the log."""
        return (f"digest {self.week}: queued for {len(self.posted)} audience(s)"
                f"{' (' + ', '.join(self.posted) + ')' if self.posted else ''}; "
                f"{len(self.skipped)} already posted")


def post_digest(service: VocService, week: Week | None = None, *,
                owner: str = "voc") -> PostReport:
    """Queue the week's digest to leadership and to each head, once per audience."""
    chosen = week or Week.last_complete(service.clock(), service.company.timezone)
    report = PostReport(chosen)
    figures = digest_figures(service, chosen)
    tz = service.company.timezone
    destinations = leadership_destinations(service)
    if destinations:
        t = service.translator()
        message = render_digest(figures, t, tz)
        files = leadership_files(service, figures, t)
        _post(service, report, chosen, "leadership", owner, [
            NewMessage(f"digest:{chosen}:leadership:{part}@{destination}", destination,
                       operation, payload)
            for destination in destinations
            for part, operation, payload in [("text", "send", {"message": message.to_json()})]
            + [(f.filename, "send_file", file_payload(f)) for f in files]])
    for slug, person_id, destination, locale in head_audiences(service):
        t = service.translator(locale)
        message = head_digest(service, slug, figures, t)
        _post(service, report, chosen, f"head:{slug}:{person_id}", owner, [NewMessage(
            f"digest:{chosen}:head:{slug}:{person_id}@{destination}", destination, "send",
            {"message": message.to_json()})])
    log.info(report.summary())
    return report


def _post(service: VocService, report: PostReport, week: Week, audience: str, owner: str,
          messages: list[NewMessage]) -> None:
    now = service.clock()
    with service.db.write() as session:
        if not claims.claim(session=session, job="digest", period=f"{week}:{audience}",
                            owner=owner, now=now):
            report.skipped.append(audience)
            return
        enqueue(session=session, messages=messages, now=now)
    report.posted.append(audience)


def leadership_files(service: VocService, figures: DigestFigures,
                     t: Translator) -> list[OutboundFile]:
    """The chart and the week's workbook attached to the leadership digest."""
    return [digest_chart_file(figures, t), digest_workbook_file(service, figures, t)]


def digest_chart_file(figures: DigestFigures, t: Translator) -> OutboundFile:
    """The digest's chart: customer NPS and signals over 12 weeks, as a PNG."""
    # matplotlib (0.8 s, 55 MB) and openpyxl (0.3 s, 33 MB) load only when a digest is built
    # (under `voc run`, in a child process): the serving bot stays without them (measured;
    # tests/system/test_cli_lean.py).
    from jobs.charts import digest_chart

    return OutboundFile(f"voc-digest-{figures.week}.png", digest_chart(figures, t),
                        title=t.gettext("Customer NPS and signals, 12 weeks"),
                        caption=t.gettext("Customer NPS and signals, 12 weeks"))


def digest_workbook_file(service: VocService, figures: DigestFigures,
                         t: Translator) -> OutboundFile:
    """The week's workbook: its signals, events and scores."""
    from jobs.excel import export_workbook

    start, end = figures.week.bounds(service.company.timezone)
    return OutboundFile(f"voc-{figures.week}.xlsx",
                        export_workbook(service, start=start, end=end, t=t),
                        title=t.gettext("The week's signals, events and scores"),
                        caption=t.gettext("The week's signals, events and scores"))
