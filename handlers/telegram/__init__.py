"""Telegram adapter (python-telegram-bot v22): capture, department groups and loop closing."""

import os

# Opt in to python-telegram-bot's v23 behaviour now: durations such as RetryAfter.retry_after
# are timedeltas. Without it every flood-control error also emits a deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")
