"""Three `voc digest --post` processes at once against PostgreSQL post once per audience."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlmodel import select

from bot.core.service import Draft, VocService
from storage.db import Database
from storage.models import JobClaim, Outbox
from tests.conftest import EXAMPLE_COMPANY, ROOT, postgres_url


@pytest.mark.slow
def test_three_concurrent_posts_queue_each_audience_once(
        service: VocService, db: Database, postgres_schema: str) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the race that matters is between replicas on PostgreSQL")
    service.capture("slack:U0LOG1", Draft("complaint", "The courier was late"))
    env = {**os.environ, "DATABASE_URL": postgres_url(postgres_schema),
           "VOC_DEPARTMENTS": str(EXAMPLE_COMPANY), "SLACK_BOT_TOKEN": "",
           "TELEGRAM_BOT_TOKEN": ""}
    processes = [subprocess.Popen([sys.executable, "-m", "bot", "digest", "--post", "--week",
                                   "2026-W48"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    with db.read() as session:
        claims = session.exec(select(JobClaim)).all()
        rows = session.exec(select(Outbox)).all()
    periods = Counter(c.period for c in claims if c.job == "digest")
    assert len(periods) == 9 and set(periods.values()) == {1}  # leadership + 8 heads, once
    assert len({c.owner for c in claims}) >= 1
    digest_rows = Counter(r.dedupe_key for r in rows if r.dedupe_key.startswith("digest:"))
    assert set(digest_rows.values()) == {1}
    assert len([k for k in digest_rows if ":leadership:text@" in k]) == 2
    queued = sum(int(out.split("queued for ")[1].split(" ")[0]) for out, _ in outputs)
    assert queued == 9, outputs
