"""A delivery port that prints what Slack or Telegram would show."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import RateLimit

if TYPE_CHECKING:
    from handlers.console.chat import ConsoleChat


class ConsolePort:
    """A delivery port that prints what Slack or Telegram would show."""

    platforms: tuple[str, ...] = ("slack", "telegram")
    rate_limit = RateLimit(per_destination=(1000, 1.0))

    def __init__(self, chat: ConsoleChat) -> None:
        self.chat = chat
        self.sent: dict[str, str] = {}
        self._ids = itertools.count(1)

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str,
                   reply_to: str | None = None) -> str:
        """Print a new message and remember its id (a reply: under the card it answers)."""
        message_id = f"m{next(self._ids)}"
        self.sent[dedupe_key] = message_id
        await self.chat.show_delivery(destination, message, updated=False,
                                      thread=reply_to is not None)
        return message_id

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        """Print the new version of a message (a chat app would edit it in place)."""
        await self.chat.show_delivery(destination, message, updated=True)

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str,
                        reply_to: str | None = None) -> str:
        """Print that a file was posted."""
        message_id = f"f{next(self._ids)}"
        self.sent[dedupe_key] = message_id
        self.chat.write(f"── {await self.chat.where(destination)} ── [{file.filename}, "
                        f"{len(file.content) // 1024 + 1} KB] {file.caption}")
        return message_id

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        """What this terminal printed before under that key."""
        return self.sent.get(dedupe_key)

