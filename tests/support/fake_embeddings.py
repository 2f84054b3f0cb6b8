"""An OpenAI-compatible embeddings server (`POST /v1/embeddings`) on a loopback port.

Each text's vector is its first eight characters' code points, so a test knows what to expect;
the answer lists the embeddings in reverse order with their `index`, as a server may. It can
fail with an HTTP status, answer with the wrong number of embeddings, or hold every request
until released (a hanging endpoint).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def expected_vector(text: str) -> list[float]:
    """The (not normalised) vector the server gives `text`."""
    return [float(ord(ch)) for ch in (text + " " * 8)[:8]]


class FakeEmbeddings:
    """The server; `requests` records each request's path, body and Authorization header."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.short_answer = False
        self.hold = threading.Event()  # set: requests wait until `release`
        self._released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.02})  # stops at once

    def __enter__(self) -> FakeEmbeddings:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def release(self) -> None:
        """Let held requests finish (with an answer nobody may be waiting for any more)."""
        self._released.set()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body,
                                      "authorization": self.headers.get("Authorization")})
                if fake.hold.is_set():
                    fake._released.wait(30)
                if fake.status != 200:
                    self._send(fake.status, {"error": {"message": "unavailable"}})
                    return
                texts = body["input"]
                data = [{"object": "embedding", "index": i, "embedding": expected_vector(t)}
                        for i, t in enumerate(texts)][::-1]
                if fake.short_answer:
                    data = data[1:]
                self._send(200, {"object": "list", "model": body["model"], "data": data})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

        return Handler
