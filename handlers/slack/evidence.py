"""The files of a Slack report: those of the message reported through "Report to VoC" and
those put in the form's file field, downloaded with the bot token (scope `files:read`).

A file object from a message or a file input names its `url_private_download`; a file known
by id only is looked up with files.info first. A file declared larger than a file may be is
not downloaded; the core refuses it by name and keeps the report.

The bot token goes only to Slack's own file host (and to the configured API host, which is
where a self-hosted gateway or the tests' fake serves files). A remote file (Google Drive,
Dropbox: `is_external`) names a URL on any host: it is never fetched, and the reporter is
told the department reaches it through the reported message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.capture.evidence import IncomingFile
from bot.core.shared.domain import MAX_FILE_BYTES

log = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60)
SLACK_FILE_HOST = "files.slack.com"


def token_may_go_to(url: str, api_url: str) -> bool:
    """May the bot token be sent to `url`? Only over HTTPS to Slack's file host, or to the
    very origin (scheme, host and port) of the configured Web API."""
    target, api = urlsplit(url), urlsplit(api_url)
    if target.scheme == "https" and target.hostname == SLACK_FILE_HOST and target.port in (
            None, 443):
        return True
    return bool(target.hostname) and (target.scheme, target.hostname, target.port) == (
        api.scheme, api.hostname, api.port)


async def download(client: AsyncWebClient, ids: Sequence[str]) -> tuple[IncomingFile, ...]:
    """The files, by id: files.info for the name, size and private URL, then the bytes."""
    found = []
    async with aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as session:
        for file_id in ids:
            try:
                info = (await client.files_info(file=file_id)).get("file") or {}
            except SlackApiError as error:
                log.info("files.info %s: %s", file_id, error.response.get("error"))
                found.append(IncomingFile(file_id, None, 0))
                continue
            name, size = str(info.get("name") or file_id), int(info.get("size") or 0)
            url = str(info.get("url_private_download") or info.get("url_private") or "")
            if info.get("is_external") or (url and not token_may_go_to(url, client.base_url)):
                log.info("file %s is stored outside Slack: not downloaded", file_id)
                found.append(IncomingFile(name, None, size, info.get("mimetype"),
                                          external=True))
                continue
            content = None
            if url and size <= MAX_FILE_BYTES:
                content = await _fetch(session, url, str(client.token or ""))
            found.append(IncomingFile(name, content, len(content) if content else size,
                                      info.get("mimetype")))
    return tuple(found)


async def _fetch(session: aiohttp.ClientSession, url: str, token: str) -> bytes | None:
    """A private file's bytes; None if Slack would not give them (no scope: a login page)."""
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"},
                               allow_redirects=False) as response:
            if response.status != 200 or "text/html" in response.content_type:
                log.info("downloading a Slack file: HTTP %s", response.status)
                return None
            data = await response.content.read(MAX_FILE_BYTES + 1)
            return data if len(data) <= MAX_FILE_BYTES else None
    except (aiohttp.ClientError, TimeoutError) as error:
        log.info("downloading a Slack file failed: %s", error)
        return None
