"""python-telegram-bot's transport on aiohttp instead of httpx.

PTB 22's default `HTTPXRequest` (httpx 0.28 / httpcore 1.0.9) collapses under concurrency: against
our fake Bot API server `send_message` went from ~1,300 sends/s at 8 in flight to ~450-650 at 32,
whatever the pool size, and the webhook's p99 at concurrency 32 missed its target. aiohttp
(already a dependency) keeps its throughput, so the bot talks to Telegram through this class,
plugged in with PTB's documented extension point, `telegram.request.BaseRequest`.

It sends what `HTTPXRequest` sends: the parameters as a url-encoded form, or as multipart form
data with the files when there are any; PTB's User-Agent; the same default timeouts. Errors map
the same way (timeouts -> `TimedOut`, other transport failures -> `NetworkError`), and no error
message carries the request URL: Bot API URLs contain the bot token.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# `/bot<token>/` and `/file/bot<token>/`: hidden in any text that might reach a log.
_TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
# httpx's (HTML5) escaping of a multipart file name; aiohttp itself then doubles backslashes.
_FILENAME_ESCAPES = {ord('"'): "%22"} | {c: f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_NO_BODY_TYPE = frozenset({"Content-Type"})  # httpx sends a bare POST without one


def _hide_url(text: str, url: str) -> str:
    """`text` without the URL or anything that looks like a bot token."""
    return _TOKEN_IN_URL.sub("bot<token>", text.replace(url, "<Bot API URL>"))


def _env_proxy(scheme: str, netloc: str) -> str | None:
    """The proxy the environment names for this origin (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY,
    NO_PROXY), as httpx reads it; None to connect directly."""
    proxies = getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or proxy_bypass(netloc):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _add(first: float | None, second: float | None) -> float | None:
    """Two timeouts in a row; None (no limit) if either has none."""
    return None if first is None or second is None else first + second


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` over one `aiohttp.ClientSession` (created by `initialize`).

    Timeouts, in seconds (None: no limit), as HTTPXRequest's, mapped onto aiohttp's:
    waiting for a free connection plus connecting is bounded by `pool_timeout +
    connect_timeout` (`ClientTimeout.connect`), the TCP connect alone by `connect_timeout`,
    each wait for the server's bytes by `read_timeout` (`sock_read`). aiohttp has no write
    timeout: a request without files is one small write; an upload gets an overall deadline of
    pool + connect + `media_write_timeout` + read instead.

    Unlike httpx, aiohttp closes a file handle it uploaded (`InputFile(handle,
    read_file_handle=False)`; PTB's default reads handles into bytes, and so does this bot).
    """

    __slots__ = ("_connect_timeout", "_media_write_timeout", "_pool_size", "_pool_timeout",
                 "_proxies", "_read_timeout", "_session", "_write_timeout")

    def __init__(self, connection_pool_size: int = 256, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0,
                 media_write_timeout: float | None = 20.0) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (getUpdates adds its long-poll timeout to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session in the running event loop (again after `shutdown`)."""
        if self._session is not None and not self._session.closed:
            return
        self._proxies = {}  # the environment is read again, once per origin
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            # The CA bundle httpx would use (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), so a
            # host without system certificates keeps reaching api.telegram.org.
            ssl=httpx.create_ssl_context())
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets none; keep no state
            # Not trust_env=True: that looks up the proxy and ~/.netrc in a worker thread on
            # every request, which halved throughput; `_proxy` reads the proxy once instead.
            trust_env=False,
            headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        """Close the session and its connections; nothing to do if it is closed already."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _proxy(self, url: str) -> str | None:
        """The environment's proxy for the URL's origin, looked up once per session."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        if origin not in self._proxies:
            self._proxies[origin] = _env_proxy(*origin)
        return self._proxies[origin]

    def _timeout(self, files: bool, read: ODVInput[float], write: ODVInput[float],
                 connect: ODVInput[float], pool: ODVInput[float]) -> aiohttp.ClientTimeout:
        # DEFAULT_NONE means "not passed by the caller": this instance's defaults apply.
        if isinstance(read, DefaultValue):
            read = self._read_timeout
        if isinstance(connect, DefaultValue):
            connect = self._connect_timeout
        if isinstance(pool, DefaultValue):
            pool = self._pool_timeout
        if isinstance(write, DefaultValue):
            write = self._media_write_timeout if files else self._write_timeout
        connecting = _add(pool, connect)
        return aiohttp.ClientTimeout(
            total=_add(_add(connecting, write), read) if files else None,
            connect=connecting, sock_connect=connect, sock_read=read)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP request: (status code, body)."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        fields = request_data.json_parameters if request_data else {}
        files = request_data.multipart_data if request_data else {}
        body: aiohttp.FormData | dict[str, str] | None = fields or None  # url-encoded form
        if files:
            # quote_fields=False: UTF-8 file names as is (like httpx), not percent-encoded.
            # One difference remains: aiohttp labels field parts `text/plain; charset=utf-8`
            # where httpx sends no Content-Type (aiogram, on aiohttp, sends the same).
            body = aiohttp.FormData(quote_fields=False)
            for name, value in fields.items():
                body.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                body.add_field(name, content, filename=filename.translate(_FILENAME_ESCAPES),
                               content_type=mimetype)
        timeout = self._timeout(bool(files), read_timeout, write_timeout, connect_timeout,
                                pool_timeout)
        try:
            async with self._session.request(
                    method, url, data=body, timeout=timeout, proxy=self._proxy(url),
                    skip_auto_headers=None if body else _NO_BODY_TYPE) as response:
                return response.status, await response.read()
        # TimeoutError first: it is also an OSError. `from None`: aiohttp's own messages may
        # contain the URL (ConnectionTimeoutError does), so only the cleaned text goes on.
        except TimeoutError as error:
            raise TimedOut(f"Timed out: {self._describe(error, url)}") from None
        except (aiohttp.ClientError, OSError) as error:
            raise NetworkError(self._describe(error, url)) from None

    @staticmethod
    def _describe(error: BaseException, url: str) -> str:
        """`aiohttp.ClientConnectorError: Cannot connect to host ...`, without the URL."""
        name = type(error).__name__
        if type(error).__module__.startswith("aiohttp"):
            name = f"aiohttp.{name}"
        text = _hide_url(str(error), url)
        return f"{name}: {text}" if text else name


__all__ = ["AiohttpRequest"]
