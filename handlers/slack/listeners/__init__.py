"""Slack listeners, one module per kind of event; each registers itself with `register`.
`build_app` is the Bolt app with all of them."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.app import SlackBot
from handlers.slack.listeners import actions, commands, functions, home, shortcuts, views

log = logging.getLogger(__name__)


def register_all(app: AsyncApp, bot: SlackBot) -> None:
    """Every listener of the bot."""
    for module in (commands, shortcuts, actions, views, home, functions):
        module.register(app, bot)


def _not_token_skipped(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN from the environment and warns that it goes unused beside
    our client, which holds that very token: a warning about nothing."""
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_app(bot: SlackBot, *, client: AsyncWebClient, signing_secret: str | None
              ) -> AsyncApp:
    """The Bolt app with every listener registered."""
    logging.getLogger(f"slack_bolt.{AsyncApp.__name__}").addFilter(_not_token_skipped)
    app = AsyncApp(client=client, signing_secret=signing_secret or "",
                   process_before_response=True,
                   request_verification_enabled=signing_secret is not None)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        """A listener failed before it could answer: log it with what Slack sent."""
        log.error("Slack listener failed (%s)", body.get("type") or body.get("command"),
                  exc_info=error)

    register_all(app, bot)
    return app
