"""SlackPort: the dispatcher's way to post, edit and upload in Slack.

Its client has no rate-limit retry handler on purpose: a 429 surfaces as `RetryAfter`, so the
dispatcher (not a sleeping coroutine) waits and the row keeps its place. Errors retrying cannot
fix become `PermanentDeliveryError` with a message an admin can act on (`voc outbox list`).
Every posted message carries our dedupe key in its metadata, so after a crash `find_sent` can
ask `conversations.history` whether the message is already there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import PermanentDeliveryError, RateLimit, RetryAfter
from handlers.slack.blocks import fallback_text, message_blocks
from jobs.limits import Limit, PortLimits, Rate

METADATA_EVENT = "voc_outbox"
HISTORY_LOOKBACK = 200  # messages scanned by find_sent (uncertain rows are recent ones)

# Slack error codes (api.slack.com/methods/chat.postMessage#errors) that no retry will fix.
_PERMANENT = {
    "channel_not_found": "Slack channel {target} does not exist or the bot cannot see it: fix "
                         "the department's slack_channel in the departments file (or invite "
                         "the bot to the private channel), then `voc outbox retry --all`.",
    "not_in_channel": "The bot is not a member of Slack channel {target}: type "
                      "`/invite @voc` in that channel, then `voc outbox retry --all`.",
    "is_archived": "Slack channel {target} is archived: unarchive it or point the department "
                   "at another channel, then `voc outbox retry --all`.",
    "channel_is_archived": "Slack channel {target} is archived: unarchive it or point the "
                           "department at another channel, then `voc outbox retry --all`.",
    "account_inactive": "The Slack account {target} is deactivated; the message cannot be "
                        "delivered.",
    "user_not_found": "There is no Slack user {target}; check the identity.",
    "user_disabled": "The Slack account {target} is disabled; the message cannot be delivered.",
    "message_not_found": "The message to edit in {target} no longer exists (deleted?).",
    "cant_update_message": "Slack does not let the bot edit that message in {target}.",
    "edit_window_closed": "Slack's edit window for the message in {target} has closed.",
    "invalid_blocks": "Slack refused the message blocks for {target} (a bug: report it).",
    "msg_too_long": "The message for {target} is too long for Slack (a bug: report it).",
    "restricted_action": "A workspace setting forbids the bot to post in {target}.",
}


# What Slack allows, as token buckets (jobs/limits.py). Where a platform states "N per W
# seconds", burst + per_second * W <= N: a bucket holds at most `burst` tokens when a window
# starts and gains per_second * W during it, so no window of W seconds carries more than N.
#
# chat.postMessage: "Posting messages: 1 per second. Short bursts >1 allowed. If you attempt
# bursts, there is no guarantee that messages will be delivered" (rate-limit docs,
# https://docs.slack.dev/apis/web-api/rate-limits); the method's page: "1 message per second to
# a specific channel ... limiting posting to several hundred messages per minute [across the
# workspace]. Generous burst behavior is also granted"
# (https://docs.slack.dev/reference/methods/chat.postMessage). Slack does not say how long a
# burst may be, so we take 3: a report's card plus a couple of others to the same channel go out
# at once, and a longer burst would risk a 429 (a Retry-After wait: no message lost, but slower).
CHANNEL = Rate(burst=3, per_second=1.0)
# "Several hundred messages per minute" read as its floor, 300: 10 + 4/s * 60 = 250 <= 300.
WORKSPACE = Rate(burst=10, per_second=4.0)
# chat.update is Web API Tier 3, "50+ per minute" per app and workspace, and "Slack allows
# occasional bursts" above a tier's rate (rate-limit docs): 10 + 40/min * 1 min = 50. Heads
# triage in bursts (a stand-up, a queue cleared); ten edits go at once, the minute stays at 50.
UPDATES = Rate(burst=10, per_second=40 / 60)


@dataclass(frozen=True)
class SlackLimits(PortLimits):
    """A post draws on its channel's bucket and the workspace's (which, empty, holds back
    posts only); an edit on chat.update's alone."""

    def draws(self, platform: str, destination: str, operation: str) -> list[Limit]:
        if operation == "update":
            return [Limit("slack:chat.update", UPDATES, "nothing")]
        return [Limit(destination, CHANNEL), Limit("slack:chat.postMessage", WORKSPACE, "posts")]


def target_of(destination: str) -> str:
    """`slack:C0LOGISTICS` -> `C0LOGISTICS`."""
    return destination.split(":", 1)[1]


class SlackPort:
    """DeliveryPort over slack_sdk's AsyncWebClient."""

    platforms: tuple[str, ...] = ("slack",)
    # About one post a second per channel, 300 a minute in the workspace; edits apart.
    rate_limit: RateLimit = SlackLimits(per_destination=(1, 1.0), overall=(300, 60.0))

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._dm_channels: dict[str, str] = {}

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str,
                   reply_to: str | None = None) -> str:
        """chat.postMessage; the id is `channel:ts` (a DM's channel differs from the user id).
        A reply goes into the thread of the message `reply_to` (`channel:ts`)."""
        target = target_of(destination)
        thread = reply_to.partition(":")[2] if reply_to else None
        response = await self._call(destination, self.client.chat_postMessage(
            channel=target, text=fallback_text(message), blocks=message_blocks(message),
            thread_ts=thread or None,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"dedupe_key": dedupe_key}},
            unfurl_links=False, unfurl_media=False))
        return f"{response['channel']}:{response['ts']}"

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        """chat.update of the message posted before (same content twice is harmless)."""
        channel, _, ts = message_id.partition(":")
        await self._call(destination, self.client.chat_update(
            channel=channel, ts=ts, text=fallback_text(message), blocks=message_blocks(message)))

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str,
                        reply_to: str | None = None) -> str:
        """files_upload_v2 (get an upload URL, upload, complete) into the channel or DM, or
        into the thread of the message `reply_to` (`channel:ts`, a card)."""
        channel = await self._channel(destination)
        thread = None
        if reply_to:
            channel, _, thread = reply_to.partition(":")
        response = await self._call(destination, self.client.files_upload_v2(
            channel=channel, content=file.content, filename=file.filename,
            title=file.title or file.filename, initial_comment=file.caption or None,
            thread_ts=thread or None))
        uploaded = response.get("files") or [response.get("file") or {}]
        return str(uploaded[0].get("id", ""))

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        """Look for our dedupe key in the metadata of the channel's recent messages."""
        channel = await self._channel(destination)
        cursor = None
        seen = 0
        while seen < HISTORY_LOOKBACK:
            response = await self._call(destination, self.client.conversations_history(
                channel=channel, include_all_metadata=True, limit=100, cursor=cursor))
            messages = response.get("messages") or []
            for item in messages:
                payload = (item.get("metadata") or {}).get("event_payload") or {}
                if payload.get("dedupe_key") == dedupe_key:
                    return f"{channel}:{item['ts']}"
            seen += len(messages)
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not messages:
                break
        return None

    async def _channel(self, destination: str) -> str:
        """A conversation id: channels as they are, users through conversations.open (a DM)."""
        target = target_of(destination)
        if not target.startswith(("U", "W")):
            return target
        if target not in self._dm_channels:
            response = await self._call(destination, self.client.conversations_open(
                users=target))
            self._dm_channels[target] = str(response["channel"]["id"])
        return self._dm_channels[target]

    @staticmethod
    async def _call(destination: str, pending: Any) -> Any:
        """Await a Web API call, turning Slack's answers into the dispatcher's vocabulary."""
        try:
            return await pending
        except SlackApiError as error:
            response = error.response
            if response.status_code == 429:
                retry = response.headers.get("Retry-After") or response.headers.get(
                    "retry-after") or "1"
                raise RetryAfter(float(retry), "Slack rate limit (429)") from None
            code = str(response.get("error", "")) if isinstance(response.data, dict) else ""
            if code == "ratelimited":
                raise RetryAfter(1.0, "Slack rate limit") from None
            if code in _PERMANENT:
                text = _PERMANENT[code].format(target=target_of(destination))
                raise PermanentDeliveryError(f"{text} [{code}]") from None
            raise

