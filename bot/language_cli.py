"""`voc language status` and `voc language reindex`: which language layer is in use, and the
stored vectors of the signals.

Registered by bot/cli.py (`register`); like it, imports the core only when a command runs
(`voc --help` stays lean: bot/cli_context.py has the figures).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import typer

from bot.cli_context import Commands, database_of, fail, settings_of

language_app = typer.Typer(no_args_is_help=True, cls=Commands,
                           help="The language layer: which one is in use, and its vectors.")


def register(app: typer.Typer) -> None:
    """Add the `language` group to `voc`."""
    app.add_typer(language_app, name="language")


def _embedder(ctx: typer.Context) -> Any:
    from bot.language import LanguageSettingError, build_embedder

    try:
        return build_embedder(settings_of(ctx))
    except LanguageSettingError as error:
        raise fail(str(error)) from None


@language_app.command("status")
def status(ctx: typer.Context) -> None:
    """Which language layer routing, "me too" and themes use, and how many signals it indexed."""
    from bot.core.meaning import Off
    from bot.core.meaning.indexing import pending
    from bot.language import status as layer_status

    embedder = _embedder(ctx)
    typer.echo(layer_status(embedder))
    if isinstance(embedder, Off):
        return
    indexed, total = pending(database_of(ctx), embedder)
    typer.echo(f"Signals with vectors of {embedder.name}: {indexed} of {total}"
               + ("" if indexed == total else "; `voc language reindex` adds the rest."))


@language_app.command("reindex")
def reindex(ctx: typer.Context) -> None:
    """Compute and store the vectors of every signal that has none of the current model (after
    a change of model, all of them), with a progress bar. Stopped midway, it goes on from there."""
    from bot.core.meaning import Off
    from bot.core.meaning.indexing import Reindexed, pending
    from bot.core.meaning.indexing import reindex as run_reindex

    embedder = _embedder(ctx)
    if isinstance(embedder, Off):
        raise fail("The language layer is off (VOC_LANGUAGE=off, or auto without the bundled "
                   "model installed): there is nothing to index with.")
    db = database_of(ctx)
    indexed, total = pending(db, embedder)

    async def indexing(progress: Callable[[int], None]) -> Reindexed:
        try:
            return await run_reindex(db, embedder, progress=progress)
        finally:
            closing = getattr(embedder, "aclose", None)
            if closing is not None:  # the endpoint's HTTP session, in the loop that opened it
                await closing()

    with typer.progressbar(length=total - indexed,
                           label=f"Indexing with {embedder.name}") as bar:
        result = asyncio.run(indexing(bar.update))
    if result.interrupted:
        raise fail(f"The language layer stopped answering: {result.stored} signals indexed, "
                   f"{result.remaining} still without vectors. Run it again later.", 1)
    typer.echo(f"Indexed {result.stored} signals; every signal with a text has vectors of "
               f"{embedder.name}.")
