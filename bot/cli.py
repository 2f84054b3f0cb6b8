"""The `voc` command: its groups and commands. Settings are read once
(bot/cli_context.py) and passed down.

Each command imports what it runs (the core, adapters, the web server, charts, workbooks) in
its body: `voc --help` takes 0.16 s and 25 MB this way, 0.75 s and 67 MB with the database
layer and the core imported at the top (measured; tests/system/test_cli_lean.py keeps it lean).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_context import (
    FLAG,
    Commands,
    check_writable,
    company_of,
    configure_logging,
    database_of,
    fail,
    operator,
    read_settings,
    service_of,
    settings_of,
)
from bot.customers_cli import register as register_customers
from bot.digest_cli import register as register_digest
from bot.language_cli import register as register_language
from bot.routing_cli import register as register_routing

if TYPE_CHECKING:
    from bot.core.service import VocService

app = typer.Typer(no_args_is_help=True, add_completion=False, cls=Commands,
                  help="voc-bot: closes the voice-of-the-customer loop across departments.",
                  epilog="Settings come from the environment or .env (every one is listed in "
                         ".env.example), among them VOC_LOG_FORMAT (text or json), "
                         "VOC_METRICS_PORT and VOC_METRICS_HOST (metrics for voc run).")
db_app = typer.Typer(no_args_is_help=True, cls=Commands, help="Database schema.")
departments_app = typer.Typer(no_args_is_help=True, cls=Commands, help="The departments file.")
outbox_app = typer.Typer(no_args_is_help=True, cls=Commands,
                         help="Messages waiting or failed to deliver.")
app.add_typer(db_app, name="db")
app.add_typer(departments_app, name="departments")
app.add_typer(outbox_app, name="outbox")
app.callback()(read_settings)
register_routing(app)  # `voc routing train|report` (bot/routing_cli.py)
register_language(app)  # `voc language status|reindex` (bot/language_cli.py)
register_customers(app)  # `voc customers import|list|merge|split` (bot/customers_cli.py)
register_digest(app)  # `voc digest` (bot/digest_cli.py)


def _console(service: VocService, who: str | None) -> None:
    from bot.core.shared.identity import is_valid_identity
    from handlers.console import ConsoleChat, default_identity, run_console

    identity = default_identity(service.company) if who is None else who
    if ":" not in identity:
        probe = ConsoleChat(service, service.company, identity, sys.stdin, sys.stdout)
        identity = probe.resolve_person(identity)
    if not is_valid_identity(identity):
        raise fail(f"Unknown person {who!r}: give an identity like slack:U0LOG1 or part of a "
                   "name from the [[person]] tables of the departments file.")
    logging.basicConfig(level=logging.WARNING)
    if asyncio.run(run_console(service, service.company, identity, stdin=sys.stdin,
                               stdout=sys.stdout)):
        raise typer.Exit(130)  # stopped by Ctrl-C, as shells expect (128 + SIGINT)


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the bot: Slack and/or Telegram when their tokens are set, else the terminal chat.

    With VOC_METRICS_PORT set, it also serves GET /metrics, /healthz and /readyz on that port
    (VOC_METRICS_HOST). VOC_LOG_FORMAT=json writes one JSON object per log line."""
    settings = settings_of(ctx)
    if not settings.has_chat_tokens:
        _console(service_of(ctx, allow_example=True, language=True), None)
        return
    from bot.runtime import Runtime

    configure_logging(settings)
    runtime = Runtime.build(settings, service_of(ctx, logged=True, language=True), http_mode=False)
    if not runtime.adapters:
        raise fail("No chat adapter could start with the tokens given (see the log above).")
    asyncio.run(runtime.run_until_signalled())


@app.command()
def serve(ctx: typer.Context,
          host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8000) -> None:
    """Production mode: POST /slack/events, /telegram/webhook; GET /healthz, /readyz, /metrics.

    /readyz: database reachable, schema current, dispatcher alive (503 with the reason
    otherwise); /metrics: Prometheus text format. VOC_LOG_FORMAT=json: JSON log lines."""
    import uvicorn

    from bot.runtime import Runtime
    from bot.server import create_app

    configure_logging(settings_of(ctx))
    runtime = Runtime.build(settings_of(ctx), service_of(ctx, logged=True, language=True),
                            http_mode=True)
    # log_config=None: uvicorn's lines go through our handler (format, redaction) too.
    config = uvicorn.Config(create_app(runtime), host=host, port=port, log_level="info",
                            access_log=False, lifespan="on", log_config=None)
    uvicorn.Server(config).run()


@app.command("slack-manifest")
def slack_manifest(url: Annotated[str | None, typer.Option(
        help="Public https base URL of `voc serve` (events go to URL/slack/events); "
             "without it, a Socket Mode app for `voc run`.")] = None) -> None:
    """Print the Slack app manifest (command, shortcut, App Home, scopes, events) as JSON."""
    from handlers.slack.manifest import manifest_json

    if url is not None and not url.startswith("https://"):
        raise fail("Slack only calls https URLs: give --url https://your.host")
    typer.echo(manifest_json(url))


@app.command()
def console(ctx: typer.Context, as_: Annotated[str | None, typer.Option(
        "--as", help="Identity (slack:U0LOG1) or part of a name from the departments file.")
        ] = None) -> None:
    """Terminal chat against the same core, for trying the bot without Slack or Telegram."""
    _console(service_of(ctx, allow_example=True, language=True), as_)


@app.command()
def demo(ctx: typer.Context,
         signals: Annotated[int, typer.Option(min=1, max=100_000)] = 300,
         weeks: Annotated[int, typer.Option(min=1, max=104)] = 12,
         seed: Annotated[int, typer.Option()] = 7,
         append: Annotated[bool, typer.Option(
             "--append/--no-append", help="Add to a database that has signals",
             metavar=FLAG)] = False,
         excel: Annotated[Path, typer.Option("--excel", help="Workbook to write")] = Path(
             "voc-demo.xlsx"),
         ) -> None:
    """Fill the database with realistic sample data, print a digest preview, write a workbook."""
    from bot.demo import demo_digest_and_workbook, fill_demo

    check_writable(excel)
    service = service_of(ctx, allow_example=True)
    try:
        report = fill_demo(service, signals=signals, weeks=weeks, seed=seed, append=append)
    except ValueError as exc:
        raise fail(str(exc)) from None
    typer.echo(report.summary())
    typer.echo(demo_digest_and_workbook(service, excel))


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply migrations (creates the tables on a new database)."""
    from storage.db import safe_url

    db = database_of(ctx, current=False)
    before, head = db.schema_revisions()
    db.upgrade()
    where = safe_url(str(db.engine.url))
    typer.echo(f"{where}: schema {head}" + ("" if before == head else f" (was {before})"))


@db_app.command("revision")
def db_revision(ctx: typer.Context,
                message: Annotated[str, typer.Option("--message", "-m", help="What changed")],
                ) -> None:
    """For developers: write a migration for model changes (the database must be current)."""
    from alembic import command

    db = database_of(ctx)
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


@db_app.command("status")
def db_status(ctx: typer.Context) -> None:
    """The database's schema revision and the one this code needs; exit status 1 if they differ."""
    from storage.db import safe_url

    db = database_of(ctx, current=False)
    current, head = db.schema_revisions()
    where = safe_url(str(db.engine.url))
    if current is None:
        typer.echo(f"{where}: no voc-bot tables yet; run `voc db upgrade` to create them "
                   f"(schema {head})")
    else:
        typer.echo(f"{where}: at {current}, code needs {head}")
    if current != head:
        raise typer.Exit(1)


@departments_app.command("check")
def departments_check(ctx: typer.Context, file: Annotated[Path | None, typer.Argument(
        help="The file to check (default: VOC_DEPARTMENTS, else departments.toml)",
        show_default=False)] = None) -> None:
    """Validate the departments file; every problem is listed with its line and field."""
    company = company_of(settings_of(ctx), path=file)
    typer.echo(f"{company.source}: OK, {len(company.departments)} departments, triage "
               f"{company.triage!r}, timezone {company.timezone}")


@departments_app.command("sync")
def departments_sync(ctx: typer.Context) -> None:
    """Write the departments file to the database (idempotent; removed ones are archived)."""
    from bot.core.service import utc_now
    from bot.sync import sync_company

    company = company_of(settings_of(ctx))
    typer.echo(sync_company(database_of(ctx), company, now=utc_now()).summary())


class OutboxStatus(StrEnum):
    """The states of an outbox row, as storage/outbox.py names them."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    SUPERSEDED = "superseded"
    SKIPPED = "skipped"


@outbox_app.command("list")
def outbox_list(ctx: typer.Context,
                status: Annotated[OutboxStatus, typer.Option(
                    help="Which messages", case_sensitive=False)] = OutboxStatus.DEAD,
                limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100) -> None:
    """List messages in one state (dead ones by default: delivery gave up)."""
    from storage import outbox

    db = database_of(ctx)
    with db.read() as session:
        rows = outbox.list_by_status(session=session, status=status.value, limit=limit)
    for row in rows:
        typer.echo(f"{row.id}\t{row.destination}\t{row.operation}\tattempts={row.attempts}\t"
                   f"{row.created_at:%Y-%m-%d %H:%M}\t{row.last_error or ''}")
    typer.echo(f"{len(rows)} {status.value}", err=True)


@outbox_app.command("retry")
def outbox_retry(ctx: typer.Context,
                 ids: Annotated[list[int] | None, typer.Argument(help="Outbox ids")] = None,
                 all_: Annotated[bool, typer.Option("--all", help="Every dead message",
                                                    metavar=FLAG)] = False,
                 ) -> None:
    """Send dead messages back to the queue (after fixing what killed them)."""
    from bot.core.service import utc_now
    from storage import outbox

    if not ids and not all_:
        raise fail("Give outbox ids (see `voc outbox list`) or --all.")
    db = database_of(ctx)
    with db.write() as session:
        count = outbox.retry_dead(session=session, ids=None if all_ else ids, now=utc_now())
    typer.echo(f"{count} message(s) queued again")


@app.command("export")
def export(ctx: typer.Context,
           output: Annotated[Path, typer.Option("--output", "-o", help="FILE.xlsx")],
           from_: Annotated[str | None, typer.Option(
               "--from", help="First day, YYYY-MM-DD (company time)")] = None,
           to: Annotated[str | None, typer.Option(
               "--to", help="Last day, YYYY-MM-DD (included)")] = None) -> None:
    """Excel workbook of signals, events and scores (Summary, Departments, Signals, ...)."""
    from bot.core.reporting.periods import local_midnight
    from jobs.excel import count_rows, write_workbook

    if output.suffix.lower() != ".xlsx":
        raise fail(f"{output}: the output must be a .xlsx file.")
    check_writable(output)  # before the work, not after it
    service = service_of(ctx, allow_example=True)
    tz = service.company.timezone
    try:
        start = local_midnight(date.fromisoformat(from_), tz) if from_ else None
        end = local_midnight(date.fromisoformat(to) + timedelta(days=1), tz) if to else None
    except ValueError as exc:
        raise fail(f"Dates are written YYYY-MM-DD: {exc}") from None
    if start and end and start >= end:
        raise fail("--from must be on or before --to.")
    total = count_rows(service, start=start, end=end)
    try:
        with typer.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
            write_workbook(service, output, start=start, end=end, progress=bar.update)
    except OSError as exc:  # the disk filled up, or the folder went away meanwhile
        raise fail(f"{output}: cannot write the workbook ({exc.strerror or exc}).", 1) from None
    typer.echo(f"{output}: {total} rows")


@app.command("import-scores")
def import_scores(ctx: typer.Context,
                  file: Annotated[Path, typer.Argument(help=".xlsx or .csv with columns date, "
                                                            "score, customer, segment, comment")],
                  ) -> None:
    """Import customer NPS answers; bad rows are reported by row number, good ones imported."""
    from jobs.imports import ImportFileError
    from jobs.imports import import_scores as run_import

    if not file.exists():
        raise fail(f"{file}: no such file.")
    service = service_of(ctx, allow_example=True)
    try:
        report = run_import(service, file)
    except ImportFileError as exc:
        raise fail(str(exc)) from None
    typer.echo(report.summary())
    if report.errors:
        raise typer.Exit(1)


@app.command()
def retention(ctx: typer.Context,
              dry_run: Annotated[bool, typer.Option(
                  "--dry-run", help="Only count what would be removed", metavar=FLAG)] = False,
              ) -> None:
    """Remove texts and names of cases closed more than retention_days ago (daily too).

    retention_days is set under company in the departments file; numbers and dates stay, so
    old digests keep their figures. `voc run` / `voc serve` run it daily, once per company."""
    from jobs.retention import run_once

    report = run_once(service_of(ctx), actor=operator(), dry_run=dry_run)
    typer.echo(report.summary())


@app.command()
def forget(ctx: typer.Context,
           identity: Annotated[str, typer.Argument(
               help="One of the person's accounts, like slack:U0123 or telegram:42")],
           ) -> None:
    """Remove one person's name and accounts; their reports become anonymous."""
    from bot.core.people.privacy import forget as run_forget

    report = run_forget(service_of(ctx), identity.strip(), actor=operator())
    typer.echo(report.summary())
    if report.cases == 0 and not report.rows:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the `voc` script and `python -m bot`."""
    app()
