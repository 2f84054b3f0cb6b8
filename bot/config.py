"""Process settings from the environment or `.env`, built once and passed down."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.shared.platforms import OTHER_SECRETS, PLATFORMS, SECRET_SETTINGS

# Values copied from templates: a bot started with one of these would fail later, obscurely.
_PLACEHOLDERS = {"changeme", "xoxb-your-token", "xapp-your-token", "your-secret", "secret",
                 # the example tokens of Telegram's documentation
                 "123456:abc-def1234ghikl-zyx57w2v1u123ew11",
                 "110201543:aahdqtcvch1vgwjxfseofsas0k5paldsaw"}
# Real Slack tokens and signing secrets, Telegram bot tokens and any webhook secret worth the
# name are longer than this (Slack's signing secret, the shortest, has 32 characters).
MIN_SECRET_LENGTH = 16
# Words a template puts where the secret goes ("your-signing-secret", "xoxb-TODO",
# "token-goes-here"), matched as whole words so that random tokens never match by chance.
_PLACEHOLDER_WORDS = frozenset({
    "todo", "fixme", "tbd", "xxx", "changeme", "replaceme", "placeholder", "redacted",
    "dummy", "example", "sample", "your", "yours", "here", "insert", "paste", "none", "null",
    "undefined"})
_PLACEHOLDER_PAIRS = frozenset({("change", "me"), ("replace", "me"), ("fill", "in"),
                                ("set", "me"), ("goes", "here")})
_TEMPLATE_MARKS = re.compile(r"^<.*>$|^\[.*\]$|\$\{|\{\{|%[A-Z_]+%|\.\.\.|…")
_SLACK_PREFIX = re.compile(r"^(xox[abpre]|xapp)-", re.IGNORECASE)
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def placeholder_reason(value: str) -> str | None:
    """Why `value` cannot be a real token or secret (a few words, never the value), or None."""
    lowered = value.strip().lower()
    if lowered in _PLACEHOLDERS:
        return "it is a well-known template value"
    if _TEMPLATE_MARKS.search(value):
        return "it is a template's blank to fill in"
    words = [w for w in _SEPARATORS.split(lowered) if w]
    if _PLACEHOLDER_WORDS.intersection(words) or _PLACEHOLDER_PAIRS.intersection(
            pairwise(words)):
        return "it contains a word that templates put in blanks"
    body = _SEPARATORS.sub("", _SLACK_PREFIX.sub("", lowered))
    longest = max(words, key=len, default="")
    if len(set(body)) < 4 or len(set(longest)) == 1:
        return "it repeats one or two characters"
    if len(value.strip()) < MIN_SECRET_LENGTH:
        return (f"it is too short for a real token or secret (at least {MIN_SECRET_LENGTH} "
                "characters)")
    return None


class Settings(BaseSettings):
    """Every setting of the bot; `.env.example` documents each one."""

    # hide_input_in_errors: a refused value may be a real secret; errors name only the setting.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      hide_input_in_errors=True)

    database_url: str = "sqlite:///voc.db"
    voc_departments: Path = Path("departments.toml")
    voc_timezone: str | None = None
    voc_locale: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    voc_outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    # ... and only once it is this old: an outage of minutes or hours dead-letters nothing.
    voc_outbox_max_age_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    # Seconds any wait on the database may last (connect, pool, statement, lock), so a database
    # that hangs fails a request clearly instead of holding it.
    voc_db_timeout: float = Field(default=30.0, gt=0, le=3600)
    # Seconds between reads of an idle outbox: a safety net only. Rows queued by this process,
    # and on PostgreSQL by any process (LISTEN/NOTIFY), are delivered at once.
    voc_outbox_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    # `text` (default) or `json`: one JSON object per log line (bot/logs.py).
    voc_log_format: Literal["text", "json"] = "text"
    # `voc run` serves GET /metrics, /healthz and /readyz on this port when set (`voc serve`
    # always has them on its own port).
    voc_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    voc_metrics_host: str = "127.0.0.1"
    # The language layer (bot/language): `auto` the bundled model where installed, `off`, or
    # `endpoint`, an OpenAI-compatible /v1/embeddings at the URL (the key is a bearer token).
    voc_language: Literal["auto", "off", "endpoint"] = "auto"
    voc_embeddings_url: str | None = None
    voc_embeddings_model: str | None = None
    voc_embeddings_key: SecretStr | None = None
    # The newest labelled cases routing by meaning compares a report with (memory: about
    # 2 KB a case with USE's 512 dimensions, 3.5 KB joined by e5's 384).
    voc_language_cases: int = Field(default=5000, ge=0, le=1_000_000)

    @field_validator(
        "voc_timezone",
        "voc_locale",
        "telegram_webhook_url",
        "voc_metrics_port",
        "voc_embeddings_url",
        "voc_embeddings_model",
        *SECRET_SETTINGS,
        *OTHER_SECRETS,
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object, info: ValidationInfo) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str):
            if not text.strip():
                return None
            name = (info.field_name or "this setting").upper()
            if info.field_name in SECRET_SETTINGS:
                reason = placeholder_reason(text)
            elif text.strip().lower() in _PLACEHOLDERS:
                reason = "it is a well-known template value"
            else:
                reason = None
            if reason is not None:  # the value itself is never repeated: it may be real
                raise ValueError(f"{name} is not a real value: {reason}. Set the real one.")
        return value

    @property
    def has_chat_tokens(self) -> bool:
        """True when Slack or Telegram is configured; otherwise `voc run` opens the terminal."""
        return any(getattr(self, p.token) is not None for p in PLATFORMS.values())
