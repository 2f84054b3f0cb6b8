"""Telegram adapter (python-telegram-bot v22): capture, department groups and loop closing.

Two settings python-telegram-bot reads when it is first imported, so they are made here,
before any module of this adapter imports it.
"""

import os
import sys

# Opt in to python-telegram-bot's v23 behaviour now: durations such as RetryAfter.retry_after
# are timedeltas. Without it every flood-control error also emits a deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")
# httpx (python-telegram-bot's HTTP client) imports its command-line client when click, rich
# and pygments are installed, and Typer installs rich: 4 MiB and 70 modules in a process that
# serves Telegram, for a tool it never runs. A None entry makes that one import fail, and httpx
# falls back to the stub it uses when they are absent (`httpx/__init__.py`, `except
# ImportError`).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
