"""Platform identities: one string per account, `slack:U123` or `telegram:42`."""

from __future__ import annotations

import re

IDENTITY_RE = re.compile(r"slack:[UW][A-Z0-9]{1,20}|telegram:[1-9][0-9]{0,15}")
IDENTITY_HELP = "expected slack:<user id, like U0123ABC> or telegram:<numeric user id>"
PLATFORMS = ("slack", "telegram")


FORGOTTEN_IDENTITY = "forgotten"  # a forgotten reporter's cases (bot/core/people/privacy.py)


def is_valid_identity(value: str) -> bool:
    """True for `slack:U…`/`slack:W…` user ids and positive numeric Telegram user ids."""
    return IDENTITY_RE.fullmatch(value) is not None  # `$` would let "slack:U1\n" through


def platform_of(identity_or_destination: str) -> str:
    """The platform prefix of an identity or destination (`slack:C0LOG` -> `slack`)."""
    return identity_or_destination.split(":", 1)[0]
