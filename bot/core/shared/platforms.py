"""The chat platforms, each registered once: its name, what its accounts look like, the settings
that hold its secrets, and the departments file's fields that address a department (and
leadership) on it.

Identities (`slack:U123`), destinations (`telegram:-1001/7`), the secrets kept out of logs and
errors, the metrics' platform label, the departments file's address fields and where cards go
are all read from `PLATFORMS`. A department's address on a platform is a mapping of its fields
as the file writes them (`{"telegram_chat": -1001, "telegram_topic": 7}`); the company, the
database and the sync carry `{platform: address}` without naming any field. The adapter side of
a platform (its SDK, request verification) registers in bot/runtime.py.
Standard library only: `voc --help` reads identities without loading the database layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Address = Mapping[str, Any]  # a department's fields on one platform: {"slack_channel": "C0X"}
Addresses = Mapping[str, Address]  # platform name -> the department's address on it


def _any_value(value: Any, earlier: Address) -> str | None:
    return None


@dataclass(frozen=True)
class AddressField:
    """A field of `[[department]]` addressing the department on a platform, and the `[company]`
    field addressing leadership the same way."""

    key: str  # as the file writes it: "telegram_chat"
    kind: type[str] | type[int]  # its TOML type: a value of another type is refused
    wrong_type: str  # the refusal of a value of another type, as the admin reads it
    # A refusal of the value, given the platform's fields written before it (or None: fine).
    check: Callable[[Any, Address], str | None] = _any_value
    leadership: str | None = None  # its `[company]` counterpart, if leadership has one


@dataclass(frozen=True)
class Platform:
    """One chat platform."""

    name: str  # the prefix of its identities and destinations: "slack:U123"
    account: str  # a regular expression of an account id (after "name:")
    account_help: str  # the same, for a person: "slack:<user id, like U0123ABC>"
    token: str  # the setting that turns it on (its bot token)
    secrets: tuple[str, ...]  # the settings holding its tokens and secrets (the token among them)
    # Where a department is addressed on it: the first field names the chat, the others refine
    # it (a forum topic in a Telegram group).
    address: tuple[AddressField, ...]
    # What a destination names after "name:" for an address (None: no chat); unset, the first
    # field's value as text.
    target_of: Callable[[Address], str | None] | None = None

    def target(self, addresses: Addresses) -> str | None:
        """Where these addresses send cards on this platform (`-1001/7`), or None."""
        address = addresses.get(self.name, {})
        if self.target_of is not None:
            return self.target_of(address)
        value = address.get(self.address[0].key)
        return None if value is None or value == "" else str(value)

    def chat_id(self, addresses: Addresses) -> Any:
        """The value of the field naming the chat on this platform (a Telegram group's id)."""
        return addresses.get(self.name, {}).get(self.address[0].key)

    def destination(self, chat: str | None) -> str | None:
        """`name:chat`, or None without a chat."""
        return None if chat is None else f"{self.name}:{chat}"


def _telegram_target(address: Address) -> str | None:
    chat = address.get("telegram_chat")
    if chat is None:
        return None
    topic = address.get("telegram_topic")
    return f"{chat}/{topic}" if topic else str(chat)


def _forum_topic(topic: int, earlier: Address) -> str | None:
    if topic <= 0 or earlier.get("telegram_chat") is None:
        return FORUM_TOPIC
    return None


NON_EMPTY_STRING = "must be a non-empty string"
CHAT_ID = "must be a Telegram chat id (an integer such as -1001001)"
FORUM_TOPIC = "must be a positive forum topic id, with telegram_chat set"

SLACK = Platform(
    "slack", r"[UW][A-Z0-9]{1,20}", "slack:<user id, like U0123ABC>", "slack_bot_token",
    ("slack_bot_token", "slack_signing_secret", "slack_app_token"),
    (AddressField("slack_channel", str, NON_EMPTY_STRING,
                  leadership="leadership_slack_channel"),))
TELEGRAM = Platform(
    "telegram", r"[1-9][0-9]{0,15}", "telegram:<numeric user id>", "telegram_bot_token",
    ("telegram_bot_token", "telegram_webhook_secret"),
    (AddressField("telegram_chat", int, CHAT_ID, leadership="leadership_telegram_chat"),
     AddressField("telegram_topic", int, FORUM_TOPIC, _forum_topic)),
    _telegram_target)
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
    """Where a department's cards go: its chat on each platform that has one (`department`:
    anything with `addresses`, the file's `DepartmentSpec` or the database's row)."""
    return _destinations(department.addresses)


def leadership_destinations(company: Any) -> list[str]:
    """Where the company digest and escalations go (`company.leadership_addresses`)."""
    return _destinations(company.leadership_addresses)


def _destinations(addresses: Addresses) -> list[str]:
    return [d for p in PLATFORMS.values()
            if (d := p.destination(p.target(addresses))) is not None]


def addressed_at(addresses: Addresses, destination: str) -> bool:
    """Whether `destination` is one of these addresses' chats."""
    return destination in _destinations(addresses)


def addresses_from(values: Mapping[str, Any], *,
                   leadership: bool = False) -> dict[str, dict[str, Any]]:
    """{platform: address} from a table's values by field name (None: not written); with
    `leadership`, from the `[company]` counterparts (kept under the department's field names,
    so one platform reads both alike)."""
    found: dict[str, dict[str, Any]] = {}
    for platform in PLATFORMS.values():
        address = {}
        for field in platform.address:
            written = field.leadership if leadership else field.key
            if written is not None and values.get(written) is not None:
                address[field.key] = values[written]
        if address:
            found[platform.name] = address
    return found
