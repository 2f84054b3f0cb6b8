"""A platform is registered once (bot/core/shared/platforms.py): its identities, its secrets,
where a department and leadership are addressed on it."""

from __future__ import annotations

from pydantic import SecretStr

from bot.config import Settings
from bot.core.shared.company import Company
from bot.core.shared.platforms import (
    REDACTED_SETTINGS,
    TELEGRAM,
    addressed_at,
    department_destinations,
    leadership_destinations,
    platform_of,
)
from bot.logs import secrets_of
from storage.models import Department


def test_every_secret_setting_is_registered_so_it_is_checked_and_kept_out_of_logs() -> None:
    secret_fields = {name for name, field in Settings.model_fields.items()
                     if field.annotation in (SecretStr, SecretStr | None)}
    assert secret_fields == set(REDACTED_SETTINGS)
    settings = Settings(_env_file=None, slack_bot_token="xoxb-test-token-for-redaction",
                        telegram_webhook_secret="a-webhook-secret-of-some-length",
                        voc_embeddings_key="ollama",
                        database_url="postgresql://voc:pa55-w0rd-long@db/voc")
    assert set(secrets_of(settings)) == {"xoxb-test-token-for-redaction",
                                         "a-webhook-secret-of-some-length", "pa55-w0rd-long",
                                         "ollama"}


def test_platform_of_names_a_registered_platform_or_other() -> None:
    assert platform_of("slack:U0LOG1") == "slack"
    assert platform_of("telegram:-1001/7") == "telegram"
    assert platform_of("console:me") == platform_of("nobody") == "other"


def test_a_department_and_leadership_are_addressed_on_each_platform_they_use(
        company: Company) -> None:
    both = Department(slug="x", name="X", addresses={
        "slack": {"slack_channel": "C0X"},
        "telegram": {"telegram_chat": -1001, "telegram_topic": 7}})
    telegram_only = Department(slug="y", name="Y", addresses={
        "telegram": {"telegram_chat": -1002}})
    assert department_destinations(both) == ["slack:C0X", "telegram:-1001/7"]
    assert department_destinations(telegram_only) == ["telegram:-1002"]
    assert department_destinations(Department(slug="z", name="Z")) == []
    assert leadership_destinations(company) == ["slack:C0LEADERS", "telegram:-1001000"]


def test_a_destination_names_the_department_or_leadership_it_addresses(
        company: Company) -> None:
    topic = {"telegram": {"telegram_chat": -1001, "telegram_topic": 7}}
    assert addressed_at(topic, "telegram:-1001/7")
    assert not addressed_at(topic, "telegram:-1001")  # the group, not its topic
    assert TELEGRAM.chat_id(topic) == -1001  # the group, for its command menu
    assert addressed_at(company.leadership_addresses, "slack:C0LEADERS")
    assert not addressed_at(company.leadership_addresses, "slack:-1001000")  # Telegram's id
