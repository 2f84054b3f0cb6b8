"""Log lines for `voc run` / `voc serve`: text for people (the default) or, with
VOC_LOG_FORMAT=json, one JSON object per line for log collectors.

Every line, whichever format, passes through `Redactor` last: the tokens and secrets of the
settings (and the database password) are replaced by `***` wherever they appear, in a message,
a library's request URL (the Bot API puts the token in its URLs) or a traceback.

JSON lines carry what is known about where they come from: `platform` and `request_id` for a
request from Slack or Telegram, `job` and `job_id` for a scheduled job, `outbox_id` for a
delivery (set with `context(...)`, inherited by worker threads), and `signal` when the line
names a reference such as VOC-12.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url

from bot.core.shared.platforms import REDACTED_SETTINGS

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "voc_log_context", default=MappingProxyType({}))
REFERENCE = re.compile(r"\bVOC-\d+\b")
MASK = "***"


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add fields to every line logged inside the block (and in threads it starts)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the rest of the current task's lines (a task has its own copy)."""
    _context.set({**_context.get(), **fields})


class Redactor:
    """Replaces every secret (and its URL-encoded forms) in a line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for secret in secrets if secret and len(secret) >= 4
                 for form in (secret, quote(secret, safe=""), quote_plus(secret))}
        self.forms = sorted(forms, key=len, reverse=True)  # a longer form first

    def __call__(self, line: str) -> str:
        for form in self.forms:
            line = line.replace(form, MASK)
        return line


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, error."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": message}
        line.update(_context.get())
        if "signal" not in line and (found := REFERENCE.search(message)):
            line["signal"] = found.group()
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        return self.redact(json.dumps(line, ensure_ascii=False, default=str))


def secrets_of(settings: Any) -> list[str]:
    """The settings' secret values and the database password."""
    found = []
    for name in REDACTED_SETTINGS:
        value = getattr(settings, name, None)
        if value is not None and value.get_secret_value():
            found.append(value.get_secret_value())
    with contextlib.suppress(Exception):  # a URL SQLAlchemy cannot parse holds no password
        if password := make_url(settings.database_url).password:
            found.append(str(password))
    return found


def configure(settings: Any) -> None:
    """Service logs to stderr in the chosen format; libraries' chatter stays at warnings."""
    redact = Redactor(secrets_of(settings))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if settings.voc_log_format == "json"
                         else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
