"""App Home: my reports, and my department's queue."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.app import SlackBot


def register(app: AsyncApp, bot: SlackBot) -> None:
    """The Home tab."""

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        """Publish the person's home (Slack re-sends the event on retries: publishing is
        idempotent)."""
        if event.get("tab", "home") == "home":
            bot.later(bot.publish_home(client, event["user"]))
