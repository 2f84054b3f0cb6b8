"""Any OpenAI-compatible embeddings endpoint (`POST .../v1/embeddings`): Ollama, vLLM,
text-embeddings-inference, OpenAI itself.

Every failure (refused connection, timeout, an HTTP error, an answer of the wrong shape) is
logged once per outage without the key, and the caller gets no vectors: routing then decides
by words and no capture waits or is lost. After a failure the endpoint is left alone for
`RETRY_AFTER` seconds, so an outage costs one timeout, not one per report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import numpy as np
from yarl import URL

from bot.core.meaning import Vectors, unit

log = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds for one request, connecting included
RETRY_AFTER = 30.0  # seconds an endpoint that failed is not asked again
BATCH = 64  # texts per request (servers cap a request's inputs)


class EndpointError(Exception):
    """The endpoint answered, but not with one embedding per text."""


def embeddings_url(base: str) -> URL:
    """`base` itself if it names the embeddings path, else `base` + `/embeddings`
    (so `http://host:11434/v1` and `http://host:11434/v1/embeddings` both work)."""
    url = URL(base.strip())
    if url.path.rstrip("/").endswith("/embeddings"):
        return url
    return url.with_path(url.path.rstrip("/") + "/embeddings")


class EndpointModel:
    """The `Embedder` port on an OpenAI-compatible endpoint."""

    def __init__(self, url: str, model: str, key: str | None = None, *,
                 timeout: float = TIMEOUT, retry_after: float = RETRY_AFTER,
                 batch: int = BATCH) -> None:
        self.url = embeddings_url(url)
        self.model = model
        self._key = key
        self.timeout = timeout
        self.retry_after = retry_after
        self.batch = batch
        self._session: aiohttp.ClientSession | None = None
        self._failed_at: float | None = None

    @property
    def name(self) -> str:
        """The model's name as the endpoint knows it (stored beside each vector)."""
        return self.model

    def status(self) -> str:
        """The start-up line's words: where and which model, never the key or credentials."""
        return f"endpoint {self.url.origin()} model {self.model}"

    async def embed(self, texts: Sequence[str]) -> Vectors | None:
        """Vectors for `texts`, or None when the endpoint cannot give them now."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_after:
            return None
        try:
            rows = [await self._request(list(texts[start:start + self.batch]))
                    for start in range(0, len(texts), self.batch)]
        except (aiohttp.ClientError, TimeoutError, EndpointError, ValueError) as error:
            if self._failed_at is None:
                log.warning("the embeddings endpoint %s failed (%s): texts are compared by "
                            "their words until it answers", self.url.origin(),
                            _describe(error))
            self._failed_at = time.monotonic()
            return None
        if self._failed_at is not None:
            log.info("the embeddings endpoint %s answers again", self.url.origin())
            self._failed_at = None
        return unit(np.vstack(rows))

    async def aclose(self) -> None:
        """Close the HTTP session (at shutdown)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(self, texts: list[str]) -> np.ndarray:
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        async with self._client().post(self.url, json={"model": self.model, "input": texts},
                                       headers=headers) as response:
            if response.status != 200:
                raise EndpointError(f"HTTP {response.status}")
            answer = await response.json(content_type=None)
        return _vectors(answer, len(texts))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # trust_env off: the endpoint is named in the settings; no proxy look-up per request
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=False)
        return self._session


def _vectors(answer: Any, count: int) -> np.ndarray:
    """The embeddings of an OpenAI-style answer, in the order of the inputs."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or len(data) != count:
        raise EndpointError(f"expected {count} embeddings")
    ordered = sorted(data, key=lambda item: item.get("index", 0) if isinstance(item, dict)
                     else 0)
    try:
        rows = np.array([item["embedding"] for item in ordered], dtype=np.float32)
    except (KeyError, TypeError) as error:
        raise EndpointError("an answer without embeddings") from error
    if rows.ndim != 2 or rows.shape[1] == 0 or not np.isfinite(rows).all():
        raise EndpointError("embeddings of uneven or empty length")
    return rows


def _describe(error: BaseException) -> str:
    """What went wrong, in a few words that carry no header or key."""
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectionError):
        return "cannot connect"
    return str(error) if isinstance(error, EndpointError) else type(error).__name__
