"""`voc digest --chart FILE.png --workbook FILE.xlsx`: the deliverable leadership receives,
written to disk without a chat account, and `voc demo` says how."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import EXAMPLE_COMPANY
from tests.support.workbook import SHEETS

runner = CliRunner()
pytestmark = pytest.mark.slow  # each test fills the demo company first


def invoke(*args: str, db_url: str):
    env = {"DATABASE_URL": db_url, "VOC_DEPARTMENTS": str(EXAMPLE_COMPANY),
           "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": ""}
    return runner.invoke(app, list(args), env=env)


def test_the_digest_chart_and_workbook_are_written_as_posted(db_url: str,
                                                             tmp_path: Path) -> None:
    demo = invoke("demo", "--signals", "80", "--weeks", "3", "--excel",
                  str(tmp_path / "all.xlsx"), db_url=db_url)
    assert demo.exit_code == 0, demo.output
    assert "--chart digest.png --workbook digest.xlsx" in demo.output  # the demo says how
    chart, workbook = tmp_path / "digest.png", tmp_path / "digest.xlsx"

    result = invoke("digest", "--chart", str(chart), "--workbook", str(workbook),
                    db_url=db_url)

    assert result.exit_code == 0, result.output
    assert "NPS" in result.output and "VOC-" in result.output  # the text, printed as before
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size == (1000, 650)
    book = load_workbook(io.BytesIO(workbook.read_bytes()))
    assert len(book.sheetnames) >= len(SHEETS)
    signals = book.worksheets[SHEETS.index("Signals")]
    assert signals.max_row > 1, "the week's workbook lists the week's signals"
    summary = book.worksheets[SHEETS.index("Summary")]
    assert str(summary["A2"].value).startswith("20") and "(" not in summary["A2"].value
    assert not str(summary["A3"].value or "").startswith("20")  # one whole week, no partial
    assert all(ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
               and ws.print_title_rows == "$1:$1" for ws in book.worksheets)


def test_a_heads_digest_is_text_and_refuses_files(db_url: str, tmp_path: Path) -> None:
    head = invoke("digest", "--head", "logistics", db_url=db_url)
    assert head.exit_code == 0, head.output
    assert "Logistics" in head.output

    unknown = invoke("digest", "--head", "nowhere", db_url=db_url)
    assert unknown.exit_code == 2 and "nowhere" in unknown.output and "logistics" in \
        unknown.output

    files = invoke("digest", "--head", "logistics", "--chart", str(tmp_path / "c.png"),
                   db_url=db_url)
    assert files.exit_code == 2 and "text only" in files.output
    assert not (tmp_path / "c.png").exists()


def test_a_chart_cannot_go_to_a_missing_folder(db_url: str, tmp_path: Path) -> None:
    result = invoke("digest", "--chart", str(tmp_path / "no" / "c.png"), db_url=db_url)
    assert result.exit_code != 0 and "does not exist" in result.output
