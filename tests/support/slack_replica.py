"""One outbox dispatcher delivering to Slack through the real adapter (its clients, sessions
and port), so tests can run several replicas on one database.

`python -m tests.support.slack_replica DB_URL SLACK_API_URL [--lease SECONDS]` prints `ready`
once its Slack sessions are open, then delivers until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import timedelta

from bot.config import Settings
from bot.core.service import VocService
from bot.departments import load_company
from handlers.slack.adapter import SlackAdapter
from jobs.dispatcher import Dispatcher
from storage.db import Database
from tests.conftest import EXAMPLE_COMPANY
from tests.support.fake_slack import SIGNING_SECRET, TOKEN


async def serve(db_url: str, api_url: str, lease: float) -> None:
    """Deliver until SIGTERM."""
    db = Database.connect(db_url)
    service = VocService(db, load_company(EXAMPLE_COMPANY))
    settings = Settings(_env_file=None, database_url=db_url, slack_bot_token=TOKEN,
                        slack_signing_secret=SIGNING_SECRET, slack_api_url=api_url)
    adapter = SlackAdapter(settings, service, http_mode=True)
    await adapter.start()
    dispatcher = Dispatcher(db, [adapter.port], lease=timedelta(seconds=lease))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        await dispatcher.run(stop, idle_seconds=0.1)
    finally:
        await adapter.stop()
        service.captures.close()
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db_url")
    parser.add_argument("api_url")
    parser.add_argument("--lease", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(serve(args.db_url, args.api_url, args.lease))


if __name__ == "__main__":
    main()
