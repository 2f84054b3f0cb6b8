"""Drive an interactive chat like a person: say a line, expect what comes back.

`Dialog` drives a subprocess (the real `voc` command); `TerminalDialog` runs the terminal chat
in this process against a given core service (fast, on any database fixture). Both keep a
transcript and `expect` waits on it for a pattern, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Transcript:
    """Text that arrives over time; `expect` waits until a pattern shows up in what is new."""

    def __init__(self) -> None:
        self.text = ""
        self._seen = 0
        self._changed = threading.Condition()
        self.closed = False

    def append(self, chunk: str) -> None:
        with self._changed:
            self.text += chunk
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until `pattern` shows up after what was already matched; return the match."""
        regex = re.compile(pattern)
        with self._changed:
            finished = self._changed.wait_for(
                lambda: regex.search(self.text, self._seen) is not None or self.closed, timeout)
            match = regex.search(self.text, self._seen)
        if not finished or match is None:
            raise AssertionError(f"never saw {pattern!r}; the output after the last match was:"
                                 f"\n{self.text[self._seen:]}")
        self._seen = match.end()
        return match

    def saw(self, pattern: str) -> re.Match[str] | None:
        """The last match of `pattern` anywhere so far (for output whose order may vary)."""
        with self._changed:
            matches = list(re.finditer(pattern, self.text))
        return matches[-1] if matches else None


class Dialog:
    """A subprocess with a transcript."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, cwd=cwd)
        self.output = Transcript()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def transcript(self) -> str:
        return self.output.text

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 4096):
            self.output.append(chunk.decode("utf-8", errors="replace"))
        self.output.close()

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until `pattern` shows up after what was already matched; return the match."""
        return self.output.expect(pattern, timeout)

    def saw(self, pattern: str) -> re.Match[str] | None:
        """The last match of `pattern` anywhere so far."""
        return self.output.saw(pattern)

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


class _Screen(io.TextIOBase):
    """What the terminal chat prints, into a transcript."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript

    def write(self, text: str) -> int:  # type: ignore[override]
        self.transcript.append(text)
        return len(text)


class TerminalDialog:
    """The terminal chat (handlers/console.py) in this process, as `identity`, on `service`:
    the same core, dispatcher and numbered buttons as `voc console`, without a subprocess."""

    def __init__(self, service: Any, company: Any, identity: str) -> None:
        from handlers.console import run_console

        read_end, self._write_end = os.pipe()
        self._stdin = os.fdopen(read_end, "r", encoding="utf-8")
        self.output = Transcript()
        self._thread = threading.Thread(target=lambda: asyncio.run(run_console(
            service, company, identity, stdin=self._stdin, stdout=_Screen(self.output))),
            daemon=True)
        self._thread.start()

    def say(self, line: str) -> None:
        """Type a line."""
        os.write(self._write_end, (line + "\n").encode())

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until `pattern` shows up after what was already matched; return the match."""
        return self.output.expect(pattern, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """End input and wait for the chat to leave."""
        os.close(self._write_end)
        self._thread.join(timeout)
        self._stdin.close()
        self.output.close()
