"""The port every platform adapter implements to deliver outbox messages, and its failures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.core.presentation.messages import OutboundFile, OutboundMessage


class RetryAfter(Exception):
    """The platform asked us to wait (HTTP 429 / flood control) before trying again."""

    def __init__(self, seconds: float, detail: str = "rate limited") -> None:
        self.seconds = max(0.0, seconds)
        super().__init__(f"{detail}; retry after {self.seconds:g}s")


class PermanentDeliveryError(Exception):
    """Retrying cannot help (channel not found, bot not in channel, chat deleted)."""


@dataclass(frozen=True)
class RateLimit:
    """At most `count` messages per `seconds`, per destination and over all destinations."""

    per_destination: tuple[int, float] = (1, 1.0)
    overall: tuple[int, float] | None = None


class DeliveryPort(Protocol):
    """A platform's way to post, edit and upload. Destinations are `platform:id` strings."""

    platforms: tuple[str, ...]
    rate_limit: RateLimit

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str,
                   reply_to: str | None = None) -> str:
        """Post a message; return the platform's message id (used to update it later).
        `reply_to`: the id of a message of ours to answer under (a Slack thread, a Telegram
        reply)."""
        ...

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        """Replace a message posted before."""
        ...

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str,
                        reply_to: str | None = None) -> str:
        """Upload a file (as a reply to the message `reply_to`, a card: in its Slack thread,
        as a Telegram reply); return the platform's message or file id."""
        ...

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        """The id of a message sent before under `dedupe_key`, if the platform can tell."""
        ...
