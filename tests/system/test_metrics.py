"""GET /metrics and /readyz: what an operator's Prometheus scrapes, on both
databases; `voc run` with VOC_METRICS_PORT as a real process against the fake Bot API."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from bot.core.capture.reports import Draft
from bot.core.service import VocService
from bot.metrics import Metrics
from storage import outbox
from storage.db import Database
from storage.models import Outbox
from tests.adapters.test_telegram_flows import ANNA, LOGISTICS
from tests.conftest import FakeClock
from tests.support.fake_telegram import TOKEN, FakeTelegram
from tests.support.voc_process import voc_env
from tests.system.test_serve import free_port, wait_until_up
from tests.unit.test_first_start import bot_ran_since


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """`(name, sorted labels) -> value` of every sample in a scrape."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def test_outbox_and_sla_figures_come_from_the_database_heartbeat_from_the_replica(
        service: VocService, clock: FakeClock) -> None:
    before = samples(Metrics(service.db, clock).exposition().decode())
    service.capture("slack:U0SALES1", Draft("complaint", "The courier was late again"))
    service.capture("telegram:1001", Draft("idea", "Deliver on Sundays too", customer="ACME"))
    with service.db.write() as session:  # one card given up on
        row = session.exec(select(Outbox).where(Outbox.platform == "slack")).first()
        assert row is not None
        row.status = outbox.DEAD
    beat = clock() + timedelta(days=3) - timedelta(seconds=12)
    clock.advance(days=3)  # past every acknowledgement SLA
    scraped = samples(Metrics(service.db, clock, replica="replica-a:1",
                              alive_at=lambda: beat).exposition().decode())
    assert value(scraped, "voc_database_up") == 1
    assert value(scraped, "voc_outbox_messages", platform="slack", status="dead") == 1
    assert value(scraped, "voc_outbox_messages", platform="slack", status="pending") >= 1
    assert value(scraped, "voc_outbox_messages", platform="telegram", status="pending") >= 1
    assert value(scraped, "voc_outbox_oldest_pending_seconds", platform="telegram") >= 3 * 86400
    overdue = {labels[0][1]: v for (name, labels), v in scraped.items()
               if name == "voc_sla_overdue"}
    assert sum(overdue.values()) == 2 and set(overdue) <= {"logistics", "product", "support",
                                                           "sales", "it", "finance", "cco"}
    age = value(scraped, "voc_dispatcher_heartbeat_age_seconds", replica="replica-a:1")
    assert age == pytest.approx(12)
    # This process's own counters moved by the two captures.
    for kind, platform in (("complaint", "slack"), ("idea", "telegram")):
        key = ("voc_captures_total", (("kind", kind), ("platform", platform)))
        assert scraped[key] - before.get(key, 0.0) == 1
    assert value(scraped, "voc_capture_seconds_count", platform="slack") >= 1
    print(Metrics(service.db, clock).exposition().decode())  # sample lines for the README


def test_a_database_that_cannot_be_read_says_so_in_the_scrape(company, tmp_path: Path) -> None:
    broken = Database.connect(f"sqlite:///{tmp_path / 'missing' / 'voc.db'}")
    scraped = samples(Metrics(broken, FakeClock()).exposition().decode())
    assert value(scraped, "voc_database_up") == 0
    assert not any(name == "voc_outbox_messages" for name, _ in scraped)
    broken.dispose()


@pytest.mark.slow
def test_voc_run_serves_metrics_and_readiness_on_its_metrics_port(tmp_path: Path,
                                                                  db_url: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = Database.connect(db_url)  # a bot ran here before: last week's digest is caught up
    bot_ran_since(db, datetime.now(UTC) - timedelta(days=30))
    db.dispose()
    with FakeTelegram() as fake:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=tmp_path,
            env=voc_env(tmp_path, DATABASE_URL=db_url, TELEGRAM_BOT_TOKEN=TOKEN,
                        TELEGRAM_API_URL=fake.url, VOC_METRICS_PORT=str(port)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"{base}/healthz", process)
            # The department's card meets flood control once: waited out, counted.
            fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1,
                      chat_id=LOGISTICS)
            fake.push(fake.message(ANNA, "/complaint Курьер опоздал на три часа"))
            fake.expect(LOGISTICS, r"VOC-1", timeout=15)
            ready = httpx.get(f"{base}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ok", "database": "ok", "dispatcher": "ok",
                                    "schema": "ok"}

            def delivered() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
                scraped = samples(httpx.get(f"{base}/metrics").text)
                done = value(scraped, "voc_delivery_seconds_count", platform="telegram") >= 2
                beat = any(name == "voc_dispatcher_heartbeat_age_seconds" for name, _ in scraped)
                jobs = value(scraped, "voc_job_runs_total", job="sla_sweep", outcome="ok") >= 1
                return scraped if done and beat and jobs else None

            scraped = fake.wait(delivered, timeout=30, what="deliveries, a heartbeat, a job")
            print(httpx.get(f"{base}/metrics").text)  # the sample lines of the closing note
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output, output
    assert value(scraped, "voc_captures_total", platform="telegram", kind="complaint") == 1
    assert value(scraped, "voc_capture_seconds_count", platform="telegram") == 1
    assert value(scraped, "voc_deliveries_total", platform="telegram",
                 outcome="sent") >= 2
    assert value(scraped, "voc_delivery_attempts_count", platform="telegram") >= 2
    for job in ("digest", "sla_sweep"):  # caught up at start, in this order
        assert value(scraped, "voc_job_runs_total", job=job, outcome="ok") == 1
    assert value(scraped, "voc_outbox_messages", platform="telegram", status="dead") == 0
    assert value(scraped, "voc_rate_limit_waits_total", platform="telegram", by="platform") == 1
    assert value(scraped, "voc_rate_limit_wait_seconds_total", platform="telegram",
                  by="platform") == 1
