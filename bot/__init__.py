"""voc-bot: closes the voice-of-the-customer loop across departments, in Slack and Telegram."""

import sys

__version__ = "0.1.0"

# httpx (python-telegram-bot's HTTP client) imports its command-line client when click, rich
# and pygments are installed, and Typer installs rich: 4 MiB and 70 modules in every process,
# for a tool voc never runs. A None entry makes that one import fail, and httpx falls back to
# the stub it uses when they are absent (`httpx/__init__.py`, `except ImportError`).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
