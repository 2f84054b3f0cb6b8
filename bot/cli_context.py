"""What every `voc` command gets: the settings (read once), the database, the company and
the core service, built on demand; and how problems outside the program are said (one line on
stderr, never a traceback, never a password).

The database layer, the core and the settings are imported by the functions that build them,
not at the top: measured on this machine, `voc --help` takes 0.16 s and 25 MB this way, and
0.75 s and 67 MB with them at the top (tests/system/test_cli_lean.py keeps it lean).
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core.service import VocService
    from bot.core.shared.company import Company
    from storage.db import Database

FLAG = ""  # the metavar of an on/off option: Typer would show `<bool>` after it in the help
EXAMPLE_DEPARTMENTS = Path(__file__).resolve().parent.parent / "departments.example.toml"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error for a person (no traceback) and return the exit to raise."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


class Commands(TyperGroup):
    """Every command, with what goes wrong outside the program (the database is down, missing,
    read-only or newer than the code) said in one line on stderr, exit status 1."""

    def invoke(self, ctx: Any) -> Any:  # typer's Context (its click is vendored)
        try:
            return super().invoke(ctx)
        except Exception as exc:
            problem = _outside_problem(ctx, exc)
            if problem is None:
                raise
            raise fail(problem, 1) from None

    def get_help_option(self, ctx: Any) -> Any:
        """`--help`, shown as the flag it is (Typer would add `<bool>`)."""
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = FLAG
        return option

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """A subcommand, its `--help` shown as a flag too."""
        command = super().get_command(ctx, cmd_name)
        if command is not None and (option := command.get_help_option(ctx)) is not None:
            option.metavar = FLAG
        return command


def _outside_problem(ctx: typer.Context, error: Exception) -> str | None:
    """What to say about a database that is down, missing, read-only or newer than the code;
    None for any other error. An error of the database's kind can only come from a command
    that imported storage.db and SQLAlchemy, so this imports neither."""
    db = sys.modules.get("storage.db")
    exc = sys.modules.get("sqlalchemy.exc")
    if db is not None and isinstance(error, db.SchemaOutOfDate):
        return str(error)
    outages = tuple(getattr(module, name) for module, names in (
        (db, ("StoreUnavailable",)),
        (exc, ("OperationalError", "InterfaceError", "TimeoutError"))) if module is not None
        for name in names)
    if outages and isinstance(error, outages):
        return _database_problem(ctx, error)
    return None


def _database_problem(ctx: typer.Context, error: BaseException) -> str:
    """`Cannot use the database URL: what the driver said`, without the password."""
    from sqlalchemy.engine import make_url

    from storage.db import normalise_url, safe_url

    said = _driver_said(error)
    if not isinstance(ctx.obj, Context):
        return f"Cannot use the database: {said}"
    url = make_url(normalise_url(ctx.obj.settings.database_url))
    if url.password:
        for form in {str(url.password), quote_plus(str(url.password))}:
            said = said.replace(form, "***")
    return f"Cannot use the database {safe_url(str(url))}: {said}"


def _driver_said(error: BaseException) -> str:
    """The driver's own message, on one line: StoreUnavailable -> SQLAlchemy -> driver."""
    from storage.db import StoreUnavailable

    cause = error
    while isinstance(inner := (cause.__cause__ if isinstance(cause, StoreUnavailable)
                               else getattr(cause, "orig", None)), BaseException):
        cause = inner
    lines = [" ".join(line.split()) for line in str(cause).splitlines() if line.strip()]
    said = " ".join(line if index == len(lines) - 1 or line[-1] in ".:;?!" else line + "."
                    for index, line in enumerate(lines)) or type(cause).__name__
    # psycopg: "connection failed: connection to server at ... failed: FATAL:  <the reason>"
    return said.split("FATAL: ")[-1].removeprefix("connection failed: ")[:300]


@dataclass
class Context:
    """What every command gets: the settings, read once."""

    settings: Settings


def read_settings(ctx: typer.Context) -> None:
    """Read the settings once (environment and .env)."""
    from pydantic import ValidationError

    from bot.config import Settings

    try:
        ctx.obj = Context(Settings())
    except ValidationError as exc:
        raise fail(f"Invalid settings: {'; '.join(map(_setting_problem, exc.errors()))}") from None


def _setting_problem(error: Any) -> str:
    """`NAME: what is wrong` (the value itself is never repeated: it may be a secret)."""
    name = ".".join(str(p) for p in error["loc"]).upper()
    message = re.sub(r"^Value error, ", "", str(error["msg"]))
    return message if message.startswith(name) else f"{name}: {message}"


def settings_of(ctx: typer.Context) -> Settings:
    assert isinstance(ctx.obj, Context)
    return ctx.obj.settings


def company_of(settings: Settings, *, allow_example: bool = False,
             path: Path | None = None) -> Company:
    from bot.departments import DepartmentsFileError, load_company

    path = path or settings.voc_departments
    if allow_example and not path.exists() and EXAMPLE_DEPARTMENTS.exists():
        typer.secho(f"{path} not found: using the example company ({EXAMPLE_DEPARTMENTS.name}). "
                    f"Copy it to {path} and edit it to make it yours.", err=True,
                    fg=typer.colors.YELLOW)
        path = EXAMPLE_DEPARTMENTS
    try:
        return load_company(path, timezone=settings.voc_timezone, locale=settings.voc_locale)
    except DepartmentsFileError as exc:
        raise fail(str(exc)) from None


def database_of(ctx: typer.Context, *, current: bool = True) -> Database:
    from sqlalchemy.exc import ArgumentError

    from storage.db import Database, SchemaOutOfDate

    settings = settings_of(ctx)
    try:
        db = Database.connect(settings.database_url, timeout=settings.voc_db_timeout)
    except ArgumentError as exc:  # its message never contains the URL (nor its password)
        raise fail(f"Invalid settings: DATABASE_URL: {exc}") from None
    ctx.call_on_close(db.dispose)  # pooled connections are closed when the command ends
    if current:
        try:
            db.require_current_schema()
        except SchemaOutOfDate as exc:
            raise fail(str(exc), 1) from None
    return db


def configure_logging(settings: Settings) -> None:
    """Service logs to stderr, as text or JSON (VOC_LOG_FORMAT), never with a secret."""
    from bot.logs import configure

    configure(settings)


def service_of(ctx: typer.Context, *, allow_example: bool = False,
               logged: bool = False, language: bool = False,
               routing: bool = True) -> VocService:
    """The core service on the synced company; what the sync changed goes to stderr, or to
    the log when the command logs (`voc run`, `voc serve`: one format for every line).
    `language`: with the layer the settings choose, saying which; `routing=False` when the
    command routes nothing (the model then never loads: the stored vectors are read)."""
    from bot.core.service import VocService, utc_now
    from bot.sync import sync_company

    company = company_of(settings_of(ctx), allow_example=allow_example)
    db = database_of(ctx)
    report = sync_company(db, company, now=utc_now())
    if report.changed and logged:
        logging.getLogger("bot.sync").info("%s", report.summary())
    elif report.changed:
        typer.secho(report.summary(), err=True)
    if not language:
        return VocService(db, company)
    return language_service(settings_of(ctx), db, company, logged=logged, routing=routing)


def language_service(settings: Settings, db: Database, company: Company, *,
                     logged: bool = True, routing: bool = True) -> VocService:
    """The service with the language layer the settings choose, its start-up line logged (or
    on stderr for a command that does not log) and, for `routing`, the router by meaning
    learned from the stored history."""
    import asyncio

    from bot.core.meaning import Embedder, Off
    from bot.core.routing.training import start_meaning
    from bot.core.service import VocService

    embedder: Embedder = Off()
    if settings.voc_language != "off":  # the adapters import numpy and aiohttp (0.3 s)
        from bot.language import LanguageSettingError, build_embedder

        try:
            embedder = build_embedder(settings)
        except LanguageSettingError as error:
            raise fail(str(error)) from None
    line = f"language layer: {embedder.status()}"  # as bot.language.status says it
    if logged:
        logging.getLogger("bot.language").info("%s", line)
    else:
        typer.secho(line, err=True)
    service = VocService(db, company, embedder=embedder,
                         language_cases=settings.voc_language_cases)
    if not routing:
        return service

    async def starting() -> None:
        try:
            await start_meaning(service)
        finally:
            closing = getattr(embedder, "aclose", None)
            if closing is not None:  # its HTTP session belongs to this loop; serving opens anew
                await closing()

    asyncio.run(starting())
    return service


def operator() -> str:
    """Who ran a command, for the audit trail: `cli:user@host`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container, say)
        user = str(os.getuid())
    return f"cli:{user}@{socket.gethostname()}"


def check_writable(output: Path) -> None:
    """Refuse an output file that cannot be written, in one line."""
    folder = output.parent
    if not folder.is_dir():
        raise fail(f"{output}: the folder {folder} does not exist.")
    if output.is_dir():
        raise fail(f"{output}: is a folder; give a file name like report.xlsx.")
    if not os.access(folder, os.W_OK | os.X_OK) or (output.exists()
                                                     and not os.access(output, os.W_OK)):
        raise fail(f"{output}: no permission to write there.")
