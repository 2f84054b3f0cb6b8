""""Report to VoC" on any message: the report form, prefilled with the message and its link."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import blocks as bk
from handlers.slack.app import SlackBot
from handlers.slack.listeners.commands import open_capture

log = logging.getLogger(__name__)


def register(app: AsyncApp, bot: SlackBot) -> None:
    """The message shortcut."""

    @app.shortcut(bk.SHORTCUT)
    async def report_message(ack: Any, shortcut: dict[str, Any], client: AsyncWebClient
                             ) -> None:
        """Open the capture form prefilled with the message and its permalink."""
        await ack()  # trigger_id lives 3 s: the form opens right after the ack
        bot.later(_report_message(bot, client, shortcut))


async def _report_message(bot: SlackBot, client: AsyncWebClient, shortcut: dict[str, Any]
                          ) -> None:
    channel = (shortcut.get("channel") or {}).get("id")
    message = shortcut.get("message") or {}
    link = None
    if channel and shortcut.get("message_ts"):
        try:
            link = (await client.chat_getPermalink(channel=channel,
                                                   message_ts=shortcut["message_ts"])
                    ).get("permalink")
        except SlackApiError as error:  # a channel the bot cannot see: report without the link
            log.info("no permalink for %s: %s", channel, error.response.get("error"))
    await open_capture(bot, client, shortcut["user"]["id"], shortcut["trigger_id"],
                       text=(message.get("text") or "")[:3000], link=link, channel=channel,
                       files=message.get("files") or ())
