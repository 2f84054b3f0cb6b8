"""`voc customers import FILE.csv | list | merge A B | split ACCOUNT NAME`: customer accounts.

`register` adds it to `voc` (bot/cli.py); like routing_cli, it imports the core only when a
command runs (`voc --help` stays lean). What it prints is
in the company's language (VOC_LOCALE, else the departments file's).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_context import Commands, company_of, database_of, fail, operator, settings_of

if TYPE_CHECKING:
    from bot.core.shared.company import Company
    from bot.core.shared.i18n import Translator

app = typer.Typer(no_args_is_help=True, cls=Commands,
                  help="Customer accounts: import a customer list, list, merge, split.")


def register(voc: typer.Typer) -> None:
    """Add the `customers` group to `voc`."""
    voc.add_typer(app, name="customers")
COLUMNS = ("name", "aliases", "owner", "segment")


def _company_and_translator(ctx: typer.Context, *, allow_example: bool = True,
                            ) -> tuple[Company, Translator]:
    """The company (owners are checked against the real departments file: no example then)
    and a translator in its language."""
    from bot.core.shared.i18n import Translator

    company = company_of(settings_of(ctx), allow_example=allow_example)
    return company, Translator(company.locale, company.timezone)


def _rows(path: Path, t: Translator) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, {column: cell}) for each non-empty row; the
    delimiter is the header's (a comma, or the semicolon of spreadsheets in Russian)."""
    import csv

    from jobs.imports import csv_text

    lines = csv_text(path).splitlines()  # UTF-8, else the Windows-1251 of a Russian Excel
    header = lines[0] if lines else ""
    delimiter = next((d for d in (",", ";", "\t") if d in header), ",")
    reader = csv.reader(lines, delimiter=delimiter)
    names = [cell.strip().lower() for cell in next(reader, [])]
    if "name" not in names:
        raise fail(t.gettext("%(file)s: row 1 must name the columns %(columns)s (missing: "
                             "name)") % {"file": path.name, "columns": ",".join(COLUMNS)})
    for number, cells in enumerate(reader, 2):
        if any(cell.strip() for cell in cells):
            yield number, {name: cell for name, cell in zip(names, cells, strict=False)
                           if name in COLUMNS}


@app.command("import")
def import_(ctx: typer.Context, file: Annotated[Path, typer.Argument(
        help="CSV with the columns name,aliases,owner,segment (aliases separated by ;)")],
            ) -> None:
    """Create or update an account for each row; bad rows are reported by number."""
    from bot.core.customers.importing import ImportReport, import_customers, parse_rows
    from bot.core.service import utc_now

    company, t = _company_and_translator(ctx, allow_example=False)
    if not file.is_file():
        raise fail(t.gettext("%(file)s: no such file.") % {"file": file})
    report = ImportReport()
    good = parse_rows(_rows(file, t), company.listed_identities(), report)
    import_customers(database_of(ctx), good, report, actor=operator(), now=utc_now())
    for row, problem in report.errors:
        typer.echo(t.gettext("row %(row)d: %(reason)s") % {"row": row,
                                                            "reason": problem.render(t)})
    typer.echo(t.gettext("accounts created: %(created)d, updated: %(updated)d, unchanged: "
                         "%(unchanged)d; bad rows: %(bad)d")
               % {"created": report.created, "updated": report.updated,
                  "unchanged": report.unchanged, "bad": len(report.errors)})
    if report.errors:
        raise typer.Exit(1)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every account: number, name, owner, segment, signals, other names."""
    from bot.core.customers.accounts import accounts

    _, t = _company_and_translator(ctx)
    summaries = accounts(database_of(ctx))
    for summary in summaries:
        account = summary.account
        others = [name for name in summary.aliases if name != account.name]
        typer.echo("\t".join((f"#{account.id}", account.name, account.owner_identity or "-",
                              account.segment or "-",
                              t.gettext("signals: %(count)d") % {"count": summary.signals},
                              "; ".join(others))))
    typer.echo(t.gettext("accounts: %(count)d") % {"count": len(summaries)}, err=True)


@app.command()
def merge(ctx: typer.Context,
          source: Annotated[str, typer.Argument(help="The account that goes: #12 or a name")],
          target: Annotated[str, typer.Argument(help="The account it joins: #12 or a name")],
          ) -> None:
    """Merge account SOURCE into TARGET: its names and signals go there."""
    from bot.core.customers.accounts import merge as run_merge
    from bot.core.customers.problems import CustomerProblem
    from bot.core.presentation.customer_story import merged_line
    from bot.core.service import utc_now

    _, t = _company_and_translator(ctx)
    try:
        report = run_merge(database_of(ctx), source, target, actor=operator(), now=utc_now())
    except CustomerProblem as problem:
        raise fail(problem.render(t)) from None
    typer.echo(merged_line(report, t))


@app.command()
def split(ctx: typer.Context,
          account: Annotated[str, typer.Argument(help="The account: #12 or a name")],
          name: Annotated[str, typer.Argument(help="The name that becomes an account of its own")],
          ) -> None:
    """Make NAME, a name of ACCOUNT, an account of its own with the signals written so."""
    from bot.core.customers.accounts import split as run_split
    from bot.core.customers.problems import CustomerProblem
    from bot.core.presentation.customer_story import split_line
    from bot.core.service import utc_now

    _, t = _company_and_translator(ctx)
    try:
        report = run_split(database_of(ctx), account, name, actor=operator(), now=utc_now())
    except CustomerProblem as problem:
        raise fail(problem.render(t)) from None
    typer.echo(split_line(report, t))
