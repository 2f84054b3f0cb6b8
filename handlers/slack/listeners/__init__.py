"""Slack listeners, one module per kind of event; each registers itself with `register`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.slack.app import SlackBot
from handlers.slack.listeners import actions, commands, functions, home, shortcuts, views


def register_all(app: AsyncApp, bot: SlackBot) -> None:
    """Every listener of the bot."""
    for module in (commands, shortcuts, actions, views, home, functions):
        module.register(app, bot)
