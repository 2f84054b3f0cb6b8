"""Process settings from the environment or `.env` (DESIGN 5.2), built once and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values copied from templates: a bot started with one of these would fail later, obscurely.
_PLACEHOLDERS = {"changeme", "xoxb-your-token", "xapp-your-token", "your-secret", "secret"}


class Settings(BaseSettings):
    """Every setting of DESIGN 5.2; `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

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
    # Seconds any wait on the database may last (connect, pool, statement, lock), so a database
    # that hangs fails a request clearly instead of holding it.
    voc_db_timeout: float = Field(default=30.0, gt=0, le=3600)

    @field_validator(
        "voc_timezone",
        "voc_locale",
        "telegram_webhook_url",
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "telegram_bot_token",
        "telegram_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            if value.strip().lower() in _PLACEHOLDERS:
                raise ValueError("is still the placeholder from .env.example; set the real value")
        return value

    @property
    def has_chat_tokens(self) -> bool:
        """True when Slack or Telegram is configured; otherwise `voc run` opens the terminal."""
        return self.slack_bot_token is not None or self.telegram_bot_token is not None
