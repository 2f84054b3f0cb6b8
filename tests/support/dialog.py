"""Drive an interactive command like a person: say a line, expect what comes back."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path


class Dialog:
    """A subprocess with a transcript; `expect` waits for a pattern in the new output."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, cwd=cwd)
        self.transcript = ""
        self._seen = 0
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 4096):
            with self._changed:
                self.transcript += chunk.decode("utf-8", errors="replace")
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until `pattern` shows up after what was already matched; return the match."""
        regex = re.compile(pattern)
        with self._changed:
            finished = self._changed.wait_for(
                lambda: regex.search(self.transcript, self._seen) is not None
                or not self._reader.is_alive(), timeout)
            match = regex.search(self.transcript, self._seen)
        if not finished or match is None:
            raise AssertionError(f"never saw {pattern!r}; the output after the last match was:"
                                 f"\n{self.transcript[self._seen:]}")
        self._seen = match.end()
        return match

    def saw(self, pattern: str) -> re.Match[str] | None:
        """The last match of `pattern` anywhere so far (for output whose order may vary)."""
        with self._changed:
            matches = list(re.finditer(pattern, self.transcript))
        return matches[-1] if matches else None

    def say(self, line: str) -> None:
        """Type a line."""
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def close(self, timeout: float = 30.0) -> int:
        """End input and wait for the process to leave."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code
