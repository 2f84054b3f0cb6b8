"""A chat platform kept in a JSON file, so separate processes (and a killed one) share it.

`python -m tests.support.file_platform DB_URL STATE_FILE [--crash-after-send]
[--crash-after-update] [--no-lookup] [--lease SECONDS]` runs one dispatcher until the outbox
is drained. With a crash flag it kills itself with SIGKILL right after the platform accepted a
message and before the outbox row could be marked sent: the exact window the guarantee covers.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import RateLimit
from jobs.dispatcher import Dispatcher
from storage.db import Database


class FilePlatform:
    """Messages per destination, editable in place, with a log of every post and edit."""

    platforms: tuple[str, ...] = ("slack", "telegram")
    rate_limit = RateLimit(per_destination=(100, 1.0))

    def __init__(self, path: Path, *, lookup: bool = True, crash_after: str | None = None):
        self.path = path
        self.lookup = lookup
        self.crash_after = crash_after

    def load(self) -> dict[str, Any]:
        """The platform's state: {"messages": {id: {...}}, "log": [...]}."""
        if not self.path.exists():
            return {"messages": {}, "log": []}
        return json.loads(self.path.read_text())

    def _change(self, change: Any) -> Any:
        with open(f"{self.path}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.load()
            result = change(state)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(state, ensure_ascii=False))
            os.replace(temporary, self.path)
            return result

    def _maybe_crash(self, operation: str) -> None:
        if self.crash_after == operation:
            os.kill(os.getpid(), signal.SIGKILL)

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str) -> str:
        def post(state: dict[str, Any]) -> str:
            message_id = f"m{len(state['messages']) + 1}"
            state["messages"][message_id] = {"destination": destination, "key": dedupe_key,
                                             "title": message.title,
                                             "footer": list(message.footer)}
            state["log"].append(["send", destination, message_id, dedupe_key])
            return message_id
        message_id = self._change(post)
        self._maybe_crash("send")
        return str(message_id)

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        def edit(state: dict[str, Any]) -> None:
            state["messages"][message_id].update(title=message.title,
                                                 footer=list(message.footer))
            state["log"].append(["update", destination, message_id])
        self._change(edit)
        self._maybe_crash("update")

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str) -> str:
        raise AssertionError("no files in this test")

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        if not self.lookup:
            return None
        for message_id, message in self.load()["messages"].items():
            if message["key"] == dedupe_key and message["destination"] == destination:
                return str(message_id)
        return None


async def drain(db_url: str, state: Path, *, lookup: bool, crash_after: str | None,
                lease: float) -> None:
    """Deliver until nothing is due."""
    db = Database.connect(db_url)
    platform = FilePlatform(state, lookup=lookup, crash_after=crash_after)
    dispatcher = Dispatcher(db, [platform], lease=timedelta(seconds=lease))
    while await dispatcher.run_once():
        pass
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db_url")
    parser.add_argument("state", type=Path)
    parser.add_argument("--crash-after-send", action="store_true")
    parser.add_argument("--crash-after-update", action="store_true")
    parser.add_argument("--no-lookup", action="store_true")
    parser.add_argument("--lease", type=float, default=60.0)
    args = parser.parse_args()
    crash = "send" if args.crash_after_send else "update" if args.crash_after_update else None
    asyncio.run(drain(args.db_url, args.state, lookup=not args.no_lookup, crash_after=crash,
                      lease=args.lease))


if __name__ == "__main__":
    main()
