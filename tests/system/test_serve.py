"""`voc serve` as a real process on loopback: health checks and the platform endpoints."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.core.service import VocService
from bot.runtime import Runtime
from storage.db import Database
from tests.support.voc_process import voc_env

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"voc serve exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.02)
    raise AssertionError(f"{url} never answered")


@pytest.mark.usefixtures("migrated")
def test_serve_answers_health_and_refuses_unconfigured_platforms(tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)],
                              env=voc_env(tmp_path), cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"{base}/healthz", server)
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok", "dispatcher": "ok"}
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.status_code == 200 and "voc_database_up 1.0" in metrics.text
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        slack = httpx.post(f"{base}/slack/events", content=b"token=x")
        assert slack.status_code == 503 and "slack is not configured" in slack.text
        telegram = httpx.post(f"{base}/telegram/webhook", json={"update_id": 1})
        assert telegram.status_code == 503
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    # uvicorn re-raises the SIGTERM it handled, after a graceful shutdown.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output and "Traceback" not in output


def test_health_reports_an_unreachable_database(company, tmp_path: Path):
    broken = Database.connect(f"sqlite:///{tmp_path / 'missing-dir' / 'voc.db'}")
    runtime = Runtime.build(Settings(_env_file=None), VocService(broken, company),
                            http_mode=True)

    async def check() -> dict[str, str]:
        await runtime.start()
        try:
            return await runtime.health()
        finally:
            await runtime.stop()

    report = asyncio.run(check())
    assert report["database"].startswith("unreachable")
