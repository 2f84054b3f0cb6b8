"""Lines typed at the terminal.

On a terminal: prompt_toolkit's line editing and history (arrows, Ctrl-A/E, pasting long text
whole). From a pipe (the README tour, tests): plain lines, echoed so the transcript reads like a
dialog. Keys behave as in a shell: Ctrl-C while a question is asked cancels that question
(`QuestionCancelled`); Ctrl-C at the command prompt stops the chat at once (the plain reader is
a daemon thread, so nothing waits for an Enter that never comes), and one pressed while a
command runs stops it once the command and its deliveries are done (`interrupted`). Ctrl-D
(the end of input) leaves, at a question too.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TextIO


class QuestionCancelled(Exception):
    """Ctrl-C while a question was being asked: the question is dropped, the chat goes on."""


class Lines:
    """The keyboard of one terminal chat."""

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self._interactive = _is_terminal(stdin) and _is_terminal(stdout)
        self._queue: asyncio.Queue[str | None] | None = None
        self._session: object | None = None
        self._reading: asyncio.Future[str | None] | None = None
        self._question = False  # the line being read answers a question
        self._question_cancelled = False
        self._interrupted = False
        self._ended = False  # Ctrl-D or the end of piped input: nothing more will come

    @property
    def interrupted(self) -> bool:
        """Ctrl-C was pressed outside a question: no more lines will be read."""
        return self._interrupted

    def interrupt(self) -> None:
        """Ctrl-C (SIGINT): drop the question being asked; anywhere else, abandon the line
        being read now and read no more lines."""
        if self._reading is not None and self._question:
            self._question_cancelled = True
        else:
            self._interrupted = True
        if self._reading is not None:
            self._reading.cancel()

    async def read(self, prompt: str, *, question: bool = False) -> str | None:
        """One line (without its newline); None at the end of input or after Ctrl-C at the
        command prompt. A `question` cancelled by Ctrl-C raises QuestionCancelled."""
        if self._interrupted or self._ended:
            return None
        self._question, self._question_cancelled = question, False
        self._reading = asyncio.ensure_future(self._read(prompt))
        try:
            line = await self._reading
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the chat itself is being cancelled, not just this line
            line = None  # interrupt() cancelled the line
        finally:
            self._reading = None
        if self._question_cancelled:
            self._question_cancelled = False
            raise QuestionCancelled
        if line is None and not self._interrupted:
            self._ended = True
        return line

    async def _read(self, prompt: str) -> str | None:
        if self._interactive:
            return await self._edited(prompt)
        self.stdout.write(prompt)
        self.stdout.flush()
        line = await self._piped().get()
        if line is not None:  # echo piped input so a transcript reads like a dialog
            self.stdout.write(line + "\n")
            self.stdout.flush()
        return line

    async def _edited(self, prompt: str) -> str | None:
        from prompt_toolkit import PromptSession  # only a real terminal needs it

        if self._session is None:
            self._session = PromptSession()
        session = self._session
        assert isinstance(session, PromptSession)
        try:
            return str(await session.prompt_async(prompt))
        except EOFError:  # Ctrl-D
            return None
        except KeyboardInterrupt:  # Ctrl-C, a key like any other to prompt_toolkit
            if self._question:
                self._question_cancelled = True
            else:
                self._interrupted = True
            return None

    def _piped(self) -> asyncio.Queue[str | None]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            loop, queue = asyncio.get_running_loop(), self._queue

            def pump() -> None:
                try:
                    for line in iter(self.stdin.readline, ""):
                        loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
                    loop.call_soon_threadsafe(queue.put_nowait, None)
                except (RuntimeError, ValueError):  # the chat ended first (loop or file closed)
                    return

            threading.Thread(target=pump, name="voc-console-input", daemon=True).start()
        return self._queue


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
