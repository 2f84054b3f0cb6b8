"""Excel export of 100,000 signals next to a raw openpyxl write-only loop of the same rows.

    python bench/export.py [--signals 100000] [--postgres URL | --sqlite]
    python bench/export.py --print [--signals 300] [--language ru]

Loads synthetic signals (two events each) and scores into a database, then runs, each in a
fresh process so peak memory is its own:
  export   jobs.excel.write_workbook (five sheets, typed cells, widths, filters, two charts)
  raw      openpyxl write_only + lxml appending the same Signals/Events/Scores rows as tuples
and prints time, peak RSS and the ratio export / raw (targets: ratio <= 1.5, RSS < 150 MB).

With --print it exports the demo's signals (300 by default) and prints the workbook to PDF
with LibreOffice (soffice, and pdftotext of poppler-utils; install the Carlito font, which has
Calibri's metrics), then prints each sheet's pages and the point size its text prints at
(targets: 12 pages or fewer in all, 9 pt or more).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from bot.core.service import VocService
from bot.core.shared.i18n import Translator
from bot.demo import fill_demo
from bot.departments import load_company
from bot.sync import sync_company
from storage.db import Database
from storage.models import Department, Event, Person, Score, Signal

COMPANY = Path(__file__).resolve().parent.parent / "departments.example.toml"
END = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
# pdftotext's box of a word is the font's ascent + descent: 1.3 times its size in Carlito.
WORD_BOX_PER_POINT = 1.3


def load(db: Database, count: int) -> None:
    with db.read() as session:
        departments = list(session.execute(select(Department.id)).scalars())
        reporter = session.execute(select(Person.id)).scalars().first()
    rng = random.Random(2)
    start = END - timedelta(weeks=52)
    signals, events, scores = [], [], []
    for i in range(1, count + 1):
        created = start + timedelta(minutes=5 * i)
        signals.append({"id": i, "kind": rng.choice(("complaint", "praise", "idea")),
                        "status": "acknowledged", "text": f"Synthetic signal {i}: the courier "
                        "was late and the sofa arrived scratched", "anonymous": False,
                        "reporter_id": reporter, "reporter_identity": "slack:U0SALES1",
                        "department_id": rng.choice(departments), "routing": {},
                        "created_at": created, "routed_at": created,
                        "ack_due_at": created + timedelta(hours=24),
                        "acknowledged_at": created + timedelta(hours=3), "updated_at": created,
                        "score": rng.randint(0, 10), "customer": "Acme"})
        events += [{"signal_id": i, "action": "captured", "at": created, "details": {},
                    "actor_id": reporter},
                   {"signal_id": i, "action": "acknowledged", "at": created + timedelta(hours=3),
                    "details": {}, "actor_id": reporter}]
        if i % 4 == 0:
            scores.append({"kind": "customer", "source": "import", "value": rng.randint(0, 10),
                           "at": created, "customer": "Acme", "segment": "b2b"})
    with db.engine.begin() as connection:
        for table, data in ((Signal, signals), (Event, events), (Score, scores)):
            for start_at in range(0, len(data), 50_000):
                connection.execute(insert(table.__table__),  # type: ignore[attr-defined]
                                   data[start_at:start_at + 50_000])


def child(mode: str, url: str, out: str) -> None:
    db = Database.connect(url)
    company = load_company(COMPANY)
    service = VocService(db, company, clock=lambda: END)
    started = time.perf_counter()
    if mode == "export":
        from jobs.excel import write_workbook

        write_workbook(service, Path(out))
    else:
        raw_loop(db, Path(out))
    elapsed = time.perf_counter() - started
    peak = peak_rss_mb()
    print(json.dumps({"seconds": elapsed, "peak_mb": peak}))


def peak_rss_mb() -> float:
    """This process's own peak RSS. (ru_maxrss would include the parent's peak: Linux carries
    it over fork and exec, and the parent held the generated rows.)"""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_loop(db: Database, out: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    s, e, sc = (t.__table__.c for t in (Signal, Event, Score))  # type: ignore[attr-defined]
    queries = {
        "Signals": select(s.id, s.created_at, s.kind, s.status, s.department_id, s.text,
                          s.customer, s.score, s.reporter_id, s.ack_due_at, s.acknowledged_at,
                          s.resolved_at).order_by(s.id),
        "Events": select(e.signal_id, e.at, e.action, e.actor_id, e.details)
        .order_by(e.signal_id, e.at, e.id),
        "Scores": select(sc.at, sc.kind, sc.source, sc.value, sc.customer, sc.segment,
                         sc.comment, sc.rater_department_id, sc.rated_department_id,
                         sc.pulse_round, sc.signal_id).order_by(sc.at, sc.id),
    }
    with db.engine.connect() as connection:
        for title, query in queries.items():
            sheet = book.create_sheet(title)
            for row in connection.execution_options(yield_per=5000).execute(query):
                sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else
                              json.dumps(v) if isinstance(v, dict) else v for v in row])
    book.save(out)


def run(mode: str, url: str, folder: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", mode, url,
                           f"{folder}/{mode}.xlsx"], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def print_pages(signals: int, language: str) -> None:
    """Export `signals` demo signals and print the workbook with LibreOffice: pages and point
    size per sheet."""
    if not (shutil.which("soffice") and shutil.which("pdftotext")):
        sys.exit("needs soffice (libreoffice-calc-nogui) and pdftotext (poppler-utils)")
    from jobs.excel import write_workbook

    with tempfile.TemporaryDirectory() as folder:
        db = Database.connect(f"sqlite:///{folder}/bench.db")
        db.upgrade()
        company = load_company(COMPANY)
        sync_company(db, company, now=END)
        service = VocService(db, company, clock=lambda: END)
        fill_demo(service, signals=signals, weeks=8)
        write_workbook(service, Path(folder, "voc.xlsx"), t=Translator(language, company.timezone))
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", folder,
                        f"{folder}/voc.xlsx"], capture_output=True, check=True)
        boxes = subprocess.run(["pdftotext", "-bbox", f"{folder}/voc.pdf", "-"],
                               capture_output=True, text=True, check=True).stdout
    sheets: dict[str, list[float]] = {}
    for page in boxes.split("<page ")[1:]:
        words = re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)<', page)
        footer = re.search(r"(\S+) — \d+ / \d+", " ".join(word for _, _, word in words))
        heights = [float(bottom) - float(top) for top, bottom, _ in words]
        sheets.setdefault(footer.group(1) if footer else "?", []).append(
            statistics.median(heights) / WORD_BOX_PER_POINT if heights else 0)
    print(f"LibreOffice, {signals} demo signals, in {language}:")
    for name, sizes in sheets.items():
        print(f"  {name:14} {len(sizes):3} pages  {min(sizes):4.1f} pt")
    print(f"  {'in all':14} {sum(map(len, sheets.values())):3} pages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signals", type=int)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "OUT"))
    parser.add_argument("--print", action="store_true", help="pages printed by LibreOffice")
    parser.add_argument("--language", default="en")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.print:
        print_pages(args.signals or 300, args.language)
        return
    args.signals = args.signals or 100_000
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        db = Database.connect(url)
        db.upgrade()
        sync_company(db, load_company(COMPANY), now=END)
        started = time.perf_counter()
        load(db, args.signals)
        with db.engine.connect() as connection:
            events = connection.execute(text("SELECT count(*) FROM event")).scalar()
        db.dispose()
        print(f"SQLite, {args.signals:,} signals, {events:,} events "
              f"(loaded in {time.perf_counter() - started:.1f} s)")
        ours, raw = run("export", url, folder), run("raw", url, folder)
        for name, figures in (("export (5 sheets, charts)", ours), ("raw openpyxl loop", raw)):
            print(f"  {name:26} {figures['seconds']:6.1f} s  peak RSS {figures['peak_mb']:6.0f} MB")
        print(f"  ratio export / raw: {ours['seconds'] / raw['seconds']:.2f}")


if __name__ == "__main__":
    main()
