"""The terminal behaves like a shell: Ctrl-C stops `voc run` at once at the prompt, whether it
reads a pipe or a real terminal, and cancels only the question when one is asked; Ctrl-D
leaves; a yes/no question asks again on anything else; at a terminal the Up arrow recalls the
last line instead of printing `^[[A`. Real subprocesses, a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import select as where

from storage.db import Database
from storage.models import Outbox, Signal
from tests.support.dialog import Dialog
from tests.support.voc_process import voc_env

pytestmark = pytest.mark.slow
VOC_RUN = [sys.executable, "-m", "bot", "run"]


def test_sigint_stops_voc_run_at_once_after_delivering_what_was_queued(migrated: Path):
    chat = Dialog(VOC_RUN, env=voc_env(migrated, VOC_LOCALE="en"), cwd=migrated)
    chat.expect(r"Kate Brown> ")
    chat.say("/voc complaint The courier was three hours late")
    chat.expect(r"Complaint VOC-1 went to Logistics")
    chat.expect(r"── Logistics · telegram ──")
    chat.process.send_signal(signal.SIGINT)  # stdin stays open: nobody pressed Enter
    assert chat.process.wait(timeout=15) == 130
    chat.close()
    db = Database.connect(voc_env(migrated)["DATABASE_URL"])
    with db.read() as session:
        statuses = {row.status for row in session.exec(where(Outbox))}
    db.dispose()
    assert statuses == {"sent"}, statuses  # nothing left half-delivered


class Terminal:
    """`voc run` on a pseudo-terminal: what a person at a keyboard sees."""

    def __init__(self, cwd: Path) -> None:
        self.master, follower = pty.openpty()
        # No cursor-position answers come from this terminal: prompt_toolkit is told so.
        env = voc_env(cwd, VOC_LOCALE="en", PROMPT_TOOLKIT_NO_CPR="1")
        self.process = subprocess.Popen(VOC_RUN, stdin=follower, stdout=follower,
                                        stderr=follower, env=env, cwd=cwd,
                                        start_new_session=True)
        os.close(follower)
        self.screen = b""  # everything shown so far
        self.unread = b""  # what follows the last text waited for

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        """Wait until `text` shows after the last text waited for, like a person reading on.
        What arrived with it stays unread: a prompt drawn in the same write as a card counts."""
        deadline = time.monotonic() + timeout
        while (found := self.unread.find(text.encode())) < 0:
            assert time.monotonic() < deadline, f"{text!r} never showed: {self.unread[-500:]!r}"
            if select.select([self.master], [], [], 0.1)[0]:
                chunk = os.read(self.master, 65536)
                self.screen += chunk
                self.unread += chunk
        self.unread = self.unread[found + len(text.encode()):]

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        os.close(self.master)


def test_ctrl_c_at_a_terminal_stops_voc_run_and_the_up_arrow_recalls_a_line(migrated: Path):
    terminal = Terminal(migrated)
    try:
        terminal.wait_for("Kate Brown>")
        terminal.type(b"/voc idea Deliver on Sundays too\r")
        terminal.wait_for("── Logistics · telegram ──")
        terminal.wait_for("Kate Brown>")  # the prompt is back below the cards
        shown_before_up = len(terminal.screen)
        terminal.type(b"\x1b[A")  # Up: the last line comes back to be edited...
        terminal.wait_for("/voc idea Deliver on Sundays too")
        assert b"^[[A" not in terminal.screen[shown_before_up:]
        terminal.type(b"\x03")  # ...and Ctrl-C leaves at once, no Enter needed
        assert terminal.process.wait(timeout=15) == 130
    finally:
        terminal.close()


def test_a_long_text_pasted_at_a_terminal_arrives_whole(migrated: Path):
    text = " ".join(f"word{n}" for n in range(450))  # about 3,500 characters, one paste
    terminal = Terminal(migrated)
    try:
        terminal.wait_for("Kate Brown>")
        terminal.type(f"/voc complaint {text}\r".encode())
        terminal.wait_for("Complaint VOC-1 went to")
        terminal.type(b"/quit\r")
        assert terminal.process.wait(timeout=15) == 0
    finally:
        terminal.close()
    db = Database.connect(voc_env(migrated)["DATABASE_URL"])
    with db.read() as session:
        stored = [row.text for row in session.exec(where(Signal))]
    db.dispose()
    assert stored == [text]


def test_ctrl_c_at_a_question_cancels_it_and_a_second_at_the_prompt_leaves(migrated: Path):
    terminal = Terminal(migrated)
    try:
        terminal.wait_for("Kate Brown>")
        terminal.type(b"/voc\r")
        terminal.wait_for("Kind (complaint, praise, idea):")
        terminal.type(b"\x03")  # Ctrl-C drops the question, not the chat
        terminal.wait_for("Cancelled.")
        terminal.wait_for("Kate Brown>")
        assert terminal.process.poll() is None
        terminal.type(b"/cancel\r")  # nothing is open now, and the chat says so
        terminal.wait_for("There is nothing to cancel: no question is open.")
        terminal.type(b"/help\r")
        terminal.wait_for("/cancel                           drop the question being asked")
        terminal.wait_for("Kate Brown>")  # the prompt drawn after the list
        terminal.type(b"\x03")  # at the prompt: leave, as a shell would
        assert terminal.process.wait(timeout=15) == 130
    finally:
        terminal.close()


def test_a_yes_no_question_asks_again_until_it_is_answered_and_ctrl_d_leaves(migrated: Path):
    terminal = Terminal(migrated)
    try:
        terminal.wait_for("Kate Brown>")
        terminal.type(b"/voc\r")
        for prompt, answer in (("Kind (complaint, praise, idea): ", b"complaint"),
                               ("What did the customer say? ", b"The courier was late"),
                               ("Customer (optional): ", b""),
                               ("Customer's score 0-10 (optional): ", b""),
                               ("Department (number or slug, Enter = *): ", b""),
                               ("Anonymous? (y/N): ", b"maybe")):
            terminal.wait_for(prompt.rstrip())  # the terminal draws the space as a move
            terminal.type(answer + b"\r")
        terminal.wait_for("Please answer y (yes) or n (no).")
        terminal.wait_for("Anonymous? (y/N):")  # asked again, nothing stored yet
        terminal.type(b"y\r")
        terminal.wait_for("Complaint VOC-1 went to Logistics")
        terminal.wait_for("Kate Brown>")
        terminal.type(b"/voc\r")
        terminal.wait_for("Kind (complaint, praise, idea):")
        terminal.type(b"\x04")  # Ctrl-D: the end of input, at a question too
        assert terminal.process.wait(timeout=15) == 0
    finally:
        terminal.close()
    db = Database.connect(voc_env(migrated)["DATABASE_URL"])
    with db.read() as session:
        stored = [(row.text, row.anonymous) for row in session.exec(where(Signal))]
    db.dispose()
    assert stored == [("The courier was late", True)]


def test_sigint_from_a_pipe_cancels_the_question_then_stops_voc_run(migrated: Path):
    chat = Dialog(VOC_RUN, env=voc_env(migrated, VOC_LOCALE="en"), cwd=migrated)
    chat.expect(r"Kate Brown> ")
    chat.say("/voc")
    chat.expect(r"Kind \(complaint, praise, idea\): ")
    chat.process.send_signal(signal.SIGINT)
    chat.expect(r"Cancelled\.\s+Kate Brown> ")
    assert chat.process.poll() is None
    chat.process.send_signal(signal.SIGINT)
    assert chat.process.wait(timeout=15) == 130
    chat.close()
