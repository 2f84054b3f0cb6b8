"""Placeholder tokens and secrets are refused by pattern, naming the setting
and never repeating the value; real-looking values and the test suite's fakes pass."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import Settings
from tests.adapters.test_telegram_flows import SECRET as WEBHOOK_SECRET
from tests.support.fake_slack import APP_TOKEN, SIGNING_SECRET
from tests.support.fake_slack import TOKEN as SLACK_TOKEN
from tests.support.fake_telegram import TOKEN as TELEGRAM_TOKEN
from tests.support.voc_process import voc

SECRETS = ["slack_bot_token", "slack_signing_secret", "slack_app_token", "telegram_bot_token",
           "telegram_webhook_secret"]
PLACEHOLDERS = [
    "xxx", "XXXXXXXXXXXXXXXXXXXXXXXX", "TODO", "todo: ask IT", "FIXME", "changeme",
    "change-me-please-now", "your-signing-secret", "xoxb-your-bot-token-here",
    "<your-signing-secret>", "${SLACK_SIGNING_SECRET}", "xoxb-...", "placeholder",
    "xoxb-XXXXXXXXXXXX-XXXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX", "123456789:xxxxxxxxxxxxxxxxxxxxx",
    "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",  # the example token of Telegram's docs
    "s3cr3t", "hunter2-pass",  # too short for any real Slack or Telegram secret
]
REAL_LOOKING = {
    # Built from parts, so nothing in the repository looks like a committed Slack token.
    "slack_bot_token": "xoxb-" + "7812345678901-7823456789012-Zq8XvB3nL0pR6tY2wK9mJ4sD",
    "slack_signing_secret": "8f14e45fceea167a5a36dedd4bea2543",
    "slack_app_token": "xapp-" + "1-A07ABCDEF12-7834567890123-"
                       "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a",
    "telegram_bot_token": "7012345678:AAHq3vX9kLm2Np8Rt5Yw1Zb7Cd4Ef6Gh0Ij",
    "telegram_webhook_secret": "Qm9vZ2llLXdvb2dpZS0xMjM0NTY3ODkw",
}
TEST_SUITE_FAKES = {"slack_bot_token": SLACK_TOKEN, "slack_signing_secret": SIGNING_SECRET,
                    "slack_app_token": APP_TOKEN, "telegram_bot_token": TELEGRAM_TOKEN,
                    "telegram_webhook_secret": WEBHOOK_SECRET}


@pytest.mark.parametrize("field", SECRETS)
@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholders_are_refused_naming_the_setting_never_the_value(field: str,
                                                                     value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **{field: value})  # type: ignore[arg-type]
    message = str(refused.value)
    assert field.upper() in message
    assert value.lower() not in message.lower()


@pytest.mark.parametrize("values", [REAL_LOOKING, TEST_SUITE_FAKES], ids=["real", "fakes"])
def test_real_looking_values_and_the_suites_fakes_pass(values: dict[str, str]) -> None:
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    for field, value in values.items():
        assert getattr(settings, field).get_secret_value() == value


def test_the_cli_says_which_setting_in_one_line(tmp_path) -> None:
    result = voc(tmp_path, "departments", "check", SLACK_SIGNING_SECRET="your-signing-secret")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "SLACK_SIGNING_SECRET" in lines[0] and "your-signing-secret" not in lines[0]
