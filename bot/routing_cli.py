"""`voc routing train` and `voc routing report`: the learned routing model.

Registered by bot/cli.py; like it, imports the core only when a command runs (`voc --help`
stays lean: bot/cli_context.py has the figures).
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_context import Commands, service_of

routing_app = typer.Typer(no_args_is_help=True, cls=Commands,
                          help="Routing learned from the company's history.")


def register(app: typer.Typer) -> None:
    """Add the `routing` group to `voc`."""
    app.add_typer(routing_app, name="routing")


@routing_app.command("train")
def train(ctx: typer.Context) -> None:
    """Train the routing model on the whole history now (every replica picks it up)."""
    from bot.core.routing import training

    service = service_of(ctx, allow_example=True)
    typer.echo(training.train(service).summary())


@routing_app.command("report")
def report(ctx: typer.Context,
           held_out: Annotated[float, typer.Option(
               min=0.05, max=0.5, help="Share of the newest cases to test on")] = 0.2) -> None:
    """Accuracy by department on the newest part of the history, and what was confused."""
    from bot.core.routing import training

    service = service_of(ctx, allow_example=True)
    result = training.report(service, held_out)
    names = {d.slug: d.name for d in service.company.departments}
    if result.model_id is None:
        typer.echo("Model in use: none yet (routing by keywords); `voc routing train` makes one.")
    else:
        when = result.trained_at.isoformat(timespec="minutes") if result.trained_at else "?"
        typer.echo(f"Model in use: {result.model_id}, trained {when}.")
    if not result.keywords.cases:
        typer.echo("No confirmed cases in the history yet: nothing to test on.")
        return
    typer.echo(f"Trained on the {result.trained_on} older cases, tested on the "
               f"{result.keywords.cases} newest.")
    for label, evaluation in (("keywords alone", result.keywords),
                              ("keywords + history", result.blend)):
        typer.echo(f"  {label:<20} accuracy {evaluation.accuracy:.1%} "
                   f"({evaluation.correct}/{evaluation.cases}), misrouted to a wrong "
                   f"department {evaluation.misrouted}")
    typer.echo("By department (keywords + history):")
    for slug, (correct, cases) in result.blend.by_department.items():
        typer.echo(f"  {names.get(slug, slug):<24} {correct}/{cases}  {correct / cases:.0%}")
    typer.echo("Confused (expected -> routed to, cases):")
    for expected, got, count in result.blend.confusions[:10] or []:
        typer.echo(f"  {names.get(expected, expected)} -> {names.get(got, got)}: {count}")
    if not result.blend.confusions:
        typer.echo("  nothing")
