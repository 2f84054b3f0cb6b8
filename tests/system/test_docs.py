"""The guide as a reader meets it: every link of README.md and docs/ leads somewhere (a file, a
heading), and every `voc ...` command they show is one the CLI accepts; the read-only ones run
(in this process) on a database `voc demo` filled. The tour itself is typed by
tests/system/test_readme_tour.py."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core
import typer.main

from bot.cli import app
from tests.conftest import ROOT
from tests.support.voc_process import voc_in_process

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# Written by another change landing beside this one: linked here, not created here.
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
PLACEHOLDERS = {"IDENTITY": "slack:U0LOG1", "PERSON": "Olga", "FILE": "scores.csv",
                "FILE.xlsx": "voc.xlsx", "DATE": "2026-11-01", "IDS": "1",
                "URL": "https://voc.example.com", "H": "127.0.0.1", "P": "8000",
                "COMMAND": "run"}
# Commands that only read (or write a file of their own), run on a demo database.
READ_ONLY = {("db", "status"), ("departments", "check"), ("digest",), ("export",),
             ("slack-manifest",), ("routing", "report"), ("outbox", "list"), ("retention",)}


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def anchors(path: Path) -> set[str]:
    """The heading anchors GitHub makes for a Markdown file."""
    prose = FENCE.sub("", path.read_text(encoding="utf-8"))
    headings = re.findall(r"^#{1,6} +(.+?) *$", prose, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def links() -> list[tuple[Path, str]]:
    found = []
    for doc in DOCS:
        prose = FENCE.sub("", doc.read_text(encoding="utf-8"))
        prose = re.sub(r"`[^`]*`", "", prose)  # code spans are not links
        found += [(doc, target) for target in LINK.findall(prose)
                  if not target.startswith(("http://", "https://", "mailto:"))]
    return found


@pytest.mark.parametrize(("doc", "target"), links(),
                         ids=[f"{relative(d)}->{t}" for d, t in links()])
def test_every_link_of_the_guide_leads_somewhere(doc: Path, target: str) -> None:
    path_part, _, anchor = target.partition("#")
    path = (doc.parent / path_part).resolve() if path_part else doc
    assert path.exists(), f"{relative(doc)} links to {target}, which does not exist"
    assert path.is_relative_to(ROOT)
    if anchor:
        assert anchor in anchors(path), f"{relative(doc)}: no heading #{anchor} in {path.name}"


def shown_commands() -> list[tuple[Path, list[str]]]:
    """Every `voc ...` the guide shows (code spans and command blocks), as arguments, with
    optional parts taken (their first choice) and placeholders filled in."""
    shown = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        spans = re.findall(r"`([^`\n]*(?:\n[^`\n]*)?)`", FENCE.sub("", text))
        block_lines = [line for block in FENCE.findall(text) for line in block.splitlines()]
        for written in [*spans, *block_lines]:
            for part in " ".join(written.split()).split("&&"):
                words = part.split("#")[0].strip()
                match = re.match(r"^(?:\S*/bin/)?voc (.*)$", words)
                if match:
                    shown.append((doc, arguments(match.group(1))))
    return shown


def arguments(written: str) -> list[str]:
    """`digest [--week 2026-W48] [--dry-run | --post]` -> digest --week 2026-W48 --dry-run."""
    unwrapped = re.sub(r"\[([^\[\]]*)\]", lambda m: m.group(1).split("|")[0], written)
    words = [word.split("|")[0] for word in shlex.split(unwrapped)]
    return [PLACEHOLDERS.get(word, PLACEHOLDERS.get(word.split(".")[0], word))
            if word.split(".")[0].isupper() else word for word in words]


@cache
def voc_command() -> typer.core.TyperGroup:
    """`voc` as Click sees it, built once (27 ms a build: the annotations of every command)."""
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    return command


def accept(args: list[str]) -> tuple[str, ...]:
    """Parse `voc ARGS` as the CLI would, running nothing; the command's path."""
    command: Any = voc_command()  # a group, then the command found in it
    context = typer.Context(command, info_name="voc")
    path: list[str] = []
    rest = list(args)
    while isinstance(command, typer.core.TyperGroup) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        found = command.get_command(context, name)
        assert found is not None, f"`voc {' '.join(args)}`: no command {name!r}"
        command, path = found, [*path, name]
        context = typer.Context(command, info_name=name, parent=context)
    try:
        command.make_context(" ".join(["voc", *path]), rest, parent=context.parent)
    except typer.Exit as done:  # --help
        assert done.exit_code == 0
    except Exception as error:  # what the CLI would answer with "Usage: ..." and exit 2
        raise AssertionError(f"`voc {' '.join(args)}` is refused: {error}") from None
    return tuple(path)


def test_the_guide_shows_the_commands_people_need() -> None:
    paths = {accept(args)[:2] for _, args in shown_commands()}
    for needed in [("run",), ("serve",), ("console",), ("demo",), ("db", "upgrade"),
                   ("departments", "check"), ("departments", "sync"), ("digest",),
                   ("export",), ("outbox", "list"), ("outbox", "retry"), ("slack-manifest",),
                   ("retention",), ("forget",), ("routing", "report")]:
        assert needed in paths, f"no doc shows voc {' '.join(needed)}"


@pytest.mark.parametrize(("doc", "args"), shown_commands(),
                         ids=[f"{relative(d)}: voc {' '.join(a)}" for d, a in shown_commands()])
def test_every_voc_command_the_guide_shows_is_accepted(doc: Path, args: list[str]) -> None:
    accept(args)


def test_the_read_only_commands_the_guide_shows_run_on_a_demo_database(migrated: Path) -> None:
    """Each in this process (`voc_in_process`: the code a `voc` process runs, without the ~1 s
    start of a process each), from the folder a person would run them in."""
    # Enough history for every command to have something to show (the demo's own defaults,
    # 300 reports over 12 weeks, take a quarter of a minute; tests/unit/test_demo.py tests
    # the demo itself).
    demo = voc_in_process(migrated, "demo", "--signals", "80", "--weeks", "3")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    ran = set()
    for doc, args in shown_commands():
        path = accept(args)
        if path not in READ_ONLY and path[:1] not in READ_ONLY:
            continue
        if "--post" in args or any(arg.startswith("/") for arg in args):
            continue  # posts, or a path on the host the guide installs to
        key = tuple(args)
        if key in ran:
            continue
        ran.add(key)
        done = voc_in_process(migrated, *args)
        assert done.returncode == 0, (f"{relative(doc)}: voc {' '.join(args)}\n"
                                      f"{done.stdout}{done.stderr}")
    assert len(ran) >= 6, ran
