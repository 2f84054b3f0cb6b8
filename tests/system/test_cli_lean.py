"""A lean process: `voc --help` and `voc db status` load no adapter, no chart
and no workbook code. Each runs in a fresh interpreter, which then lists what it imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.voc_process import voc_env

# What `voc --help` must not load: the platforms, the web server, charts and workbooks, and
# the database layer (it alone takes longer than the whole of `voc --help` should).
NOT_FOR_HELP = {"matplotlib", "telegram", "slack_bolt", "slack_sdk", "openpyxl", "uvicorn",
                "starlette", "aiohttp", "apscheduler", "handlers", "jobs", "sqlalchemy",
                "alembic", "jieba", "numpy"}
# `voc db status` needs the database layer and nothing of the running bot.
NOT_FOR_DB_STATUS = {"matplotlib", "telegram", "slack_bolt", "slack_sdk", "openpyxl", "uvicorn",
                     "starlette", "aiohttp", "apscheduler", "handlers", "jobs", "jieba"}
RUN_AND_LIST = """
import json, sys
sys.argv = ["voc", *json.loads(sys.argv[1])]
from bot.cli import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def imported_by(tmp_path: Path, *args: str) -> tuple[set[str], str]:
    """(top-level packages imported by `voc ARGS`, what it printed)."""
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST, json.dumps(args)],
                            capture_output=True, text=True, env=voc_env(tmp_path),
                            cwd=tmp_path, timeout=60)
    said, _, listed = result.stderr.rpartition("\nMODULES ")
    assert listed, result.stderr
    return set(json.loads(listed)), result.stdout + said


def test_voc_help_imports_no_adapter_chart_workbook_or_database(tmp_path: Path) -> None:
    modules, output = imported_by(tmp_path, "--help")
    assert "demo" in output and "serve" in output  # the help was printed
    assert modules & NOT_FOR_HELP == set()


def test_voc_db_status_imports_no_adapter_chart_or_workbook(tmp_path: Path) -> None:
    modules, output = imported_by(tmp_path, "db", "status")
    assert "voc db upgrade" in output  # it looked at the (new) database
    assert "sqlalchemy" in modules  # the check would notice a status that did nothing
    assert modules & NOT_FOR_DB_STATUS == set()


# What the running bot (`voc serve`, `voc run`) must not keep: charts and workbooks are built in a
# child process, migrations are `voc db upgrade`'s, the routing model's numpy is loaded with a
# model (none without history), jieba with the first Chinese text (keywords need none); Babel is
# for writing catalogs and calendar names (the bot reads the compiled .mo and calendar.json);
# rich, pygments and click are httpx's command-line client (bot/__init__.py).
NOT_FOR_SERVING = {"matplotlib", "openpyxl", "alembic", "mako", "numpy", "jieba", "babel",
                   "rich", "pygments", "click"}
SERVE_AND_LIST = """
import json, sys
from pathlib import Path
from bot.config import Settings
from bot.departments import load_company
from bot.core.service import VocService
from bot.runtime import Runtime
from bot.server import create_app
from storage.db import Database
settings = Settings()
db = Database.connect(settings.database_url)
db.require_current_schema()
runtime = Runtime.build(settings, VocService(db, load_company(settings.voc_departments)),
                        http_mode=True)
create_app(runtime)
from datetime import datetime, timezone
from bot.core.shared.i18n import Translator
for locale in ("ru", "zh"):  # a reader of each language: catalogs, dates
    speaker = Translator(locale, "Europe/Moscow")
    assert speaker.gettext("Acknowledge") != "Acknowledge", locale
    speaker.when(datetime.now(timezone.utc))
assert set(runtime.adapters) == {"slack", "telegram"}, runtime.adapters
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_the_serving_bot_imports_no_chart_workbook_migration_or_unneeded_model_code(
        tmp_path: Path) -> None:
    from storage.db import Database
    from tests.support import fake_slack, fake_telegram

    env = voc_env(tmp_path, SLACK_BOT_TOKEN=fake_slack.TOKEN,
                  SLACK_SIGNING_SECRET=fake_slack.SIGNING_SECRET,
                  TELEGRAM_BOT_TOKEN=fake_telegram.TOKEN,
                  TELEGRAM_WEBHOOK_SECRET="a-webhook-secret-for-the-lean-test")
    db = Database.connect(env["DATABASE_URL"])
    db.upgrade()
    db.dispose()
    result = subprocess.run([sys.executable, "-c", SERVE_AND_LIST], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    modules = set(json.loads(result.stdout.splitlines()[-1]))
    assert {"slack_bolt", "telegram", "sqlalchemy"} <= modules  # it did build the bot
    assert modules & NOT_FOR_SERVING == set()
