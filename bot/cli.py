"""The `voc` command (DESIGN 5.1). Settings are read once here and passed down."""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from bot.config import Settings
from bot.departments import Company, DepartmentsFileError, load_company
from bot.identity import is_valid_identity
from bot.service import VocService, utc_now
from bot.sync import sync_company
from storage import outbox
from storage.db import Database, SchemaOutOfDate, safe_url

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="voc-bot: closes the voice-of-the-customer loop across departments.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
departments_app = typer.Typer(no_args_is_help=True, help="The departments file.")
outbox_app = typer.Typer(no_args_is_help=True, help="Messages waiting or failed to deliver.")
app.add_typer(db_app, name="db")
app.add_typer(departments_app, name="departments")
app.add_typer(outbox_app, name="outbox")

EXAMPLE_DEPARTMENTS = Path(__file__).resolve().parent.parent / "departments.example.toml"


@dataclass
class Context:
    """What every command gets: the settings, read once."""

    settings: Settings


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error for a person (no traceback) and return the exit to raise."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@app.callback()
def main_callback(ctx: typer.Context) -> None:
    """Read the settings once (environment and .env)."""
    try:
        ctx.obj = Context(Settings())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                             for e in exc.errors())
        raise fail(f"Invalid settings: {problems}") from None


def _settings(ctx: typer.Context) -> Settings:
    assert isinstance(ctx.obj, Context)
    return ctx.obj.settings


def _company(settings: Settings, *, allow_example: bool = False) -> Company:
    path = settings.voc_departments
    if allow_example and not path.exists() and EXAMPLE_DEPARTMENTS.exists():
        typer.secho(f"{path} not found: using the example company ({EXAMPLE_DEPARTMENTS.name}). "
                    f"Copy it to {path} and edit it to make it yours.", err=True,
                    fg=typer.colors.YELLOW)
        path = EXAMPLE_DEPARTMENTS
    try:
        return load_company(path, timezone=settings.voc_timezone, locale=settings.voc_locale)
    except DepartmentsFileError as exc:
        raise fail(str(exc)) from None


def _database(ctx: typer.Context, *, current: bool = True) -> Database:
    db = Database.connect(_settings(ctx).database_url)
    ctx.call_on_close(db.dispose)  # pooled connections are closed when the command ends
    if current:
        try:
            db.require_current_schema()
        except SchemaOutOfDate as exc:
            raise fail(str(exc), 1) from None
    return db


def _logging() -> None:
    """Service logs to stderr; the libraries' chatter stays at warnings."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _service(ctx: typer.Context, *, allow_example: bool = False) -> VocService:
    company = _company(_settings(ctx), allow_example=allow_example)
    db = _database(ctx)
    report = sync_company(db, company, now=utc_now())
    if report.changed:
        typer.secho(report.summary(), err=True)
    return VocService(db, company)


def _console(service: VocService, who: str | None) -> None:
    from handlers.console import ConsoleChat, default_identity, run_console

    identity = default_identity(service.company) if who is None else who
    if ":" not in identity:
        probe = ConsoleChat(service, service.company, identity, sys.stdin, sys.stdout)
        identity = probe.resolve_person(identity)
    if not is_valid_identity(identity):
        raise fail(f"Unknown person {who!r}: give an identity like slack:U0LOG1 or part of a "
                   "name from the [[person]] tables of the departments file.")
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run_console(service, service.company, identity, stdin=sys.stdin,
                            stdout=sys.stdout))


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the bot: Slack and/or Telegram when their tokens are set, else the terminal chat."""
    settings = _settings(ctx)
    if not settings.has_chat_tokens:
        _console(_service(ctx, allow_example=True), None)
        return
    from bot.runtime import Runtime

    _logging()
    runtime = Runtime.build(settings, _service(ctx), http_mode=False)
    if not runtime.adapters:
        raise fail("No chat adapter could start with the tokens given (see the log above).")
    asyncio.run(runtime.run_until_signalled())


@app.command()
def serve(ctx: typer.Context,
          host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8000) -> None:
    """Production mode: POST /slack/events, POST /telegram/webhook, GET /healthz."""
    import uvicorn

    from bot.runtime import Runtime
    from bot.server import create_app

    _logging()
    runtime = Runtime.build(_settings(ctx), _service(ctx), http_mode=True)
    config = uvicorn.Config(create_app(runtime), host=host, port=port, log_level="info",
                            access_log=False, lifespan="on")
    uvicorn.Server(config).run()


@app.command()
def console(ctx: typer.Context, as_: Annotated[str | None, typer.Option(
        "--as", help="Identity (slack:U0LOG1) or part of a name from the departments file.")
        ] = None) -> None:
    """Terminal chat against the same core, for trying the bot without Slack or Telegram."""
    _console(_service(ctx, allow_example=True), as_)


@app.command()
def demo(ctx: typer.Context,
         signals: Annotated[int, typer.Option(min=1, max=100_000)] = 300,
         weeks: Annotated[int, typer.Option(min=1, max=104)] = 12,
         seed: Annotated[int, typer.Option()] = 7,
         append: Annotated[bool, typer.Option(help="Add to a database that has signals")] = False,
         ) -> None:
    """Fill the database with realistic sample data (signals, loops, scores) to try the bot."""
    from bot.demo import fill_demo

    service = _service(ctx, allow_example=True)
    try:
        report = fill_demo(service, signals=signals, weeks=weeks, seed=seed, append=append)
    except ValueError as exc:
        raise fail(str(exc)) from None
    typer.echo(report.summary())


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply migrations (creates the tables on a new database)."""
    db = _database(ctx, current=False)
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

    db = _database(ctx)
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


@db_app.command("status")
def db_status(ctx: typer.Context) -> None:
    """Show the database's schema revision and the one this code needs."""
    db = _database(ctx, current=False)
    current, head = db.schema_revisions()
    typer.echo(f"{safe_url(str(db.engine.url))}: at {current}, code needs {head}")
    if current != head:
        raise typer.Exit(1)


@departments_app.command("check")
def departments_check(ctx: typer.Context) -> None:
    """Validate the departments file; every problem is listed with its line and field."""
    company = _company(_settings(ctx))
    typer.echo(f"{company.source}: OK, {len(company.departments)} departments, triage "
               f"{company.triage!r}, timezone {company.timezone}")


@departments_app.command("sync")
def departments_sync(ctx: typer.Context) -> None:
    """Write the departments file to the database (idempotent; removed ones are archived)."""
    company = _company(_settings(ctx))
    typer.echo(sync_company(_database(ctx), company, now=utc_now()).summary())


@outbox_app.command("list")
def outbox_list(ctx: typer.Context,
                status: Annotated[str, typer.Option(help="pending, sending, sent, dead")] = "dead",
                limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100) -> None:
    """List messages in one state (dead ones by default: delivery gave up)."""
    db = _database(ctx)
    with db.read() as session:
        rows = outbox.list_by_status(session=session, status=status, limit=limit)
    for row in rows:
        typer.echo(f"{row.id}\t{row.destination}\t{row.operation}\tattempts={row.attempts}\t"
                   f"{row.created_at:%Y-%m-%d %H:%M}\t{row.last_error or ''}")
    typer.echo(f"{len(rows)} {status}", err=True)


@outbox_app.command("retry")
def outbox_retry(ctx: typer.Context,
                 ids: Annotated[list[int] | None, typer.Argument(help="Outbox ids")] = None,
                 all_: Annotated[bool, typer.Option("--all", help="Every dead message")] = False,
                 ) -> None:
    """Send dead messages back to the queue (after fixing what killed them)."""
    if not ids and not all_:
        raise fail("Give outbox ids (see `voc outbox list`) or --all.")
    db = _database(ctx)
    with db.write() as session:
        count = outbox.retry_dead(session=session, ids=None if all_ else ids, now=utc_now())
    typer.echo(f"{count} message(s) queued again")


def main() -> None:
    """Entry point of the `voc` script and `python -m bot`."""
    app()
