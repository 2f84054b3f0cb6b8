"""Platform identities: one string per account, `slack:U123` or `telegram:42`."""

from __future__ import annotations

from bot.core.shared.platforms import IDENTITY_HELP, IDENTITY_RE

__all__ = ["FORGOTTEN_IDENTITY", "IDENTITY_HELP", "IDENTITY_RE", "is_valid_identity"]


FORGOTTEN_IDENTITY = "forgotten"  # a forgotten reporter's cases (bot/core/people/privacy.py)


def is_valid_identity(value: str) -> bool:
    """True for `slack:U…`/`slack:W…` user ids and positive numeric Telegram user ids."""
    return IDENTITY_RE.fullmatch(value) is not None  # `$` would let "slack:U1\n" through

