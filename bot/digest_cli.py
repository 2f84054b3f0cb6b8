"""`voc digest [--week W] [--post | --dry-run] [--head SLUG] [--chart FILE.png]
[--workbook FILE.xlsx]`: the weekly digest, printed, queued, or written to files.

`register` adds it to `voc` (bot/cli.py). The files are exactly those the leadership digest
carries when posted (the same code builds both), so the deliverable can be produced and
checked without a chat account. A head's digest is text only, as it is posted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_context import FLAG, check_writable, fail, service_of

if TYPE_CHECKING:
    from bot.core.presentation.messages import OutboundMessage
    from bot.core.reporting.digest import DigestFigures
    from bot.core.service import VocService


def register(voc: typer.Typer) -> None:
    """Add the `digest` command to `voc`."""
    voc.command()(digest)


def digest(ctx: typer.Context,
           week: Annotated[str | None, typer.Option(
               help="ISO week like 2026-W48 (default: the last complete week)")] = None,
           post: Annotated[bool, typer.Option("--post", help="Queue it for posting",
                                              metavar=FLAG)] = False,
           dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print it (the default)",
                                                 metavar=FLAG)] = False,
           head: Annotated[str | None, typer.Option(
               "--head", help="Print a department head's digest instead (department slug)",
               metavar="SLUG")] = None,
           chart: Annotated[Path | None, typer.Option(
               "--chart", help="Write the digest's chart here", metavar="FILE.png")] = None,
           workbook: Annotated[Path | None, typer.Option(
               "--workbook", help="Write the digest's workbook here",
               metavar="FILE.xlsx")] = None,
           ) -> None:
    """Build the weekly digest: print it, write its chart and workbook, or queue it (exactly
    once per week and audience)."""
    from bot.core.reporting.digest import digest_figures
    from bot.core.reporting.periods import Week
    from jobs.digest import post_digest

    if post and dry_run:
        raise fail("Choose one of --post and --dry-run.")
    if post and (head or chart or workbook):
        raise fail("--post queues the digest for everyone; --head, --chart and --workbook "
                   "only print or write it.")
    if head and (chart or workbook):
        raise fail("A head's digest is text only; --chart and --workbook write the company "
                   "digest's files (leave out --head).")
    for output in (chart, workbook):
        if output is not None:
            check_writable(output)
    try:
        chosen = Week.parse(week) if week else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    # Themes by meaning read the vectors stored at capture: the model itself is not needed.
    service = service_of(ctx, allow_example=True, language=True, routing=False)
    if post:
        typer.echo(post_digest(service, chosen, owner=f"cli:{os.getpid()}").summary())
        return
    chosen = chosen or Week.last_complete(service.clock(), service.company.timezone)
    figures = digest_figures(service, chosen)
    message = _head_digest(service, head, figures) if head else _company_digest(
        service, figures, chart, workbook)
    typer.echo(message.plain_text())
    typer.echo(_closing_words(service, head))


def _company_digest(service: VocService, figures: DigestFigures, chart: Path | None,
                    workbook: Path | None) -> OutboundMessage:
    """The leadership digest's text; its chart and workbook written where asked."""
    from bot.core.reporting.digest import render_digest
    from jobs.digest import digest_chart_file, digest_workbook_file

    t = service.translator()
    if chart is not None:
        chart.write_bytes(digest_chart_file(figures, t).content)
        typer.echo(f"Chart written: {chart}", err=True)
    if workbook is not None:
        workbook.write_bytes(digest_workbook_file(service, figures, t).content)
        typer.echo(f"Workbook written: {workbook}", err=True)
    return render_digest(figures, t, service.company.timezone)


def _head_digest(service: VocService, slug: str, figures: DigestFigures) -> OutboundMessage:
    """The department's digest in its (first) head's language, else the company's."""
    from bot.core.reporting.digest import head_digest
    from jobs.digest import head_audiences

    if service.company.department(slug) is None:
        known = ", ".join(d.slug for d in service.company.departments)
        raise fail(f"No department “{slug}” in the departments file (known: {known}).")
    locales = [locale for department, _, _, locale in head_audiences(service)
               if department == slug]
    return head_digest(service, slug, figures, service.translator(locales[0] if locales
                                                                  else None))


def _closing_words(service: VocService, head: str | None) -> str:
    from jobs.digest import head_audiences

    if head:
        return "\n(dry run: nothing queued; --post sends every audience its digest)"
    heads = sorted({slug for slug, *_ in head_audiences(service)})
    return (f"\n(dry run: nothing queued; --post sends it to leadership with the chart and "
            f"the week's workbook, and to the heads of {len(heads)} departments)")
