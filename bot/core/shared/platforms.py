"""The chat platforms, each registered once: its name, what its accounts look like, the settings
that hold its secrets, and how a department and leadership are addressed on it.

Identities (`slack:U123`), destinations (`telegram:-1001/7`), the secrets kept out of logs and
errors, the metrics' platform label and where cards go are all read from `PLATFORMS`. The
adapter side of a platform (its SDK, request verification) registers in bot/runtime.py.
Standard library only: `voc --help` reads identities without loading the database layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Addressed = Callable[[Any], str | None]  # a department or the company -> a chat, or None


@dataclass(frozen=True)
class Platform:
    """One chat platform."""

    name: str  # the prefix of its identities and destinations: "slack:U123"
    account: str  # a regular expression of an account id (after "name:")
    account_help: str  # the same, for a person: "slack:<user id, like U0123ABC>"
    token: str  # the setting that turns it on (its bot token)
    secrets: tuple[str, ...]  # the settings holding its tokens and secrets (the token among them)
    department_chat: Addressed  # where a department's cards go on it (`Department` row)
    leadership_chat: Addressed  # where the company digest and escalations go (`Company`)

    def destination(self, chat: str | None) -> str | None:
        """`name:chat`, or None without a chat."""
        return None if chat is None else f"{self.name}:{chat}"


def _telegram_chat(department: Any) -> str | None:
    if department.telegram_chat is None:
        return None
    topic = f"/{department.telegram_topic}" if department.telegram_topic else ""
    return f"{department.telegram_chat}{topic}"


SLACK = Platform(
    "slack", r"[UW][A-Z0-9]{1,20}", "slack:<user id, like U0123ABC>", "slack_bot_token",
    ("slack_bot_token", "slack_signing_secret", "slack_app_token"),
    lambda department: department.slack_channel or None,
    lambda company: company.leadership_slack_channel or None)
TELEGRAM = Platform(
    "telegram", r"[1-9][0-9]{0,15}", "telegram:<numeric user id>", "telegram_bot_token",
    ("telegram_bot_token", "telegram_webhook_secret"),
    _telegram_chat,
    lambda company: (None if company.leadership_telegram_chat is None
                     else str(company.leadership_telegram_chat)))
PLATFORMS: dict[str, Platform] = {p.name: p for p in (SLACK, TELEGRAM)}

IDENTITY_RE = re.compile("|".join(f"{re.escape(p.name)}:{p.account}"
                                  for p in PLATFORMS.values()))
IDENTITY_HELP = "expected " + " or ".join(p.account_help for p in PLATFORMS.values())
SECRET_SETTINGS = tuple(name for p in PLATFORMS.values() for name in p.secrets)
# Secrets of no platform (the language endpoint's key): redacted like the platforms' own, but
# not held to their length rule (an Ollama-style key may be short).
OTHER_SECRETS = ("voc_embeddings_key",)
REDACTED_SETTINGS = (*SECRET_SETTINGS, *OTHER_SECRETS)


def platform_of(identity_or_destination: str) -> str:
    """The platform of an identity or destination (`slack:C0LOG` -> `slack`); `other` for
    what names no registered platform."""
    prefix = identity_or_destination.partition(":")[0]
    return prefix if prefix in PLATFORMS else "other"


def department_destinations(department: Any) -> list[str]:
    """Where a department's cards go: its chat on each platform that has one."""
    return [d for p in PLATFORMS.values()
            if (d := p.destination(p.department_chat(department))) is not None]


def leadership_destinations(company: Any) -> list[str]:
    """Where the company digest and escalations go."""
    return [d for p in PLATFORMS.values()
            if (d := p.destination(p.leadership_chat(company))) is not None]
