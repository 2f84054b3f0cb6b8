"""The terminal chat's conversation: one person at a terminal, commands in, replies and
deliveries out, numbered buttons; `/as` switches who that person is."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.core.presentation.customer_story import customer_reply
from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.presentation.render import (
    capture_reply,
    detail_reply,
    mine_reply,
    queue_reply,
    score_reply,
)
from bot.core.presentation.views import PersonView
from bot.core.service import Draft, IncomingFile, VocService
from bot.core.shared.company import Company
from bot.core.shared.domain import MAX_FILE_BYTES
from bot.core.shared.errors import Unavailable, VocError, as_refusal
from bot.core.shared.i18n import N_, SUPPORTED_LOCALES, Translator
from bot.core.shared.platforms import addressed_at
from handlers.console import flows
from handlers.console.lines import Lines, QuestionCancelled
from handlers.console.port import ConsolePort
from jobs.dispatcher import Dispatcher
from storage.db import StoreUnavailable

HELP = N_("""Commands (the same as /voc in Slack):
  /voc complaint|praise|idea TEXT   report at once (the department is suggested)
  /voc                              report step by step (kind, text, customer, score, ...)
  /voc score N [COMMENT]            record a customer's 0-10 score
  /voc mine                         your reports and their status
  /voc queue [DEPARTMENT]           a department's open items, overdue first
  /voc show VOC-N                   one item with its history
  /voc digest                       this week's digest (leadership and heads)
  /customer NAME                    a customer's story across departments
  /attach PATH                      a local file (photo, PDF, ...) goes with your next report
  /as PERSON                        act as someone else (identity like slack:U0LOGHEAD, or a name)
  /people                           who is in the departments file
  /lang en|ru|zh                    your language
  NUMBER                            press the button with that number
  /quit                             leave""")
KEYS = N_("""  /cancel                           drop the question being asked (Ctrl-C does too)
  /help                             this list
  Ctrl-C or Ctrl-D at the prompt    leave""")


USAGE = {  # what a subcommand needs, said when it is typed alone
    "score": N_("Usage: /voc score N [COMMENT], N from 0 to 10."),
    "show": N_("Usage: /voc show VOC-N."),
}


@dataclass
class ConsoleChat:
    """One person at a terminal; `/as` switches who that person is."""

    service: VocService
    company: Company
    identity: str
    stdin: TextIO
    stdout: TextIO
    dispatcher: Dispatcher | None = None
    person: PersonView | None = None
    buttons: dict[int, Button] = field(default_factory=dict)
    pending: str | None = None  # a command typed in the middle of a question: runs next
    staged: list[IncomingFile] = field(default_factory=list)  # /attach: for the next report
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lines: Lines | None = None

    @property
    def t(self) -> Translator:
        """The current person's language."""
        return self.service.translator(self.person.locale if self.person else None)

    def write(self, text: str = "") -> None:
        """Print a line and flush (the tour is often piped)."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def refuse(self, error: VocError | StoreUnavailable) -> None:
        """Show a refusal (or that the database is unavailable)."""
        self.write("⚠ " + (as_refusal(error) or Unavailable()).render(self.t))

    @property
    def lines(self) -> Lines:
        """The keyboard."""
        if self._lines is None:
            self._lines = Lines(self.stdin, self.stdout)
        return self._lines

    async def read(self, prompt: str) -> str | None:
        """One line of input; None at end of input or after Ctrl-C."""
        return await self.lines.read(prompt)

    async def ask(self, prompt: str) -> str | None:
        """An answer to a question; None when the person leaves the question: Ctrl-C,
        `/cancel` or `/quit` ends it, and any other command ends it and runs next (never
        swallowed)."""
        try:
            answer = await self.lines.read(prompt, question=True)
        except QuestionCancelled:
            self.write(self.t.gettext("Cancelled."))
            return None
        if answer is None:
            return None
        if answer.strip().startswith("/"):
            command = answer.strip()
            self.write(self.t.gettext("Cancelled."))
            if command != "/cancel":
                self.pending = command
            return None
        return answer

    # -- main loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """Greet, then read commands until /quit or end of input."""
        await self.switch(self.identity)
        self.write(self.t.gettext("Type /voc help for commands, /quit to leave."))
        await self.deliver()
        while True:
            line, self.pending = self.pending, None
            if line is None:
                line = await self.read(f"{self.person.display_name if self.person else '?'}> ")
            if line is None or line.strip() in ("/quit", "/exit"):
                break
            try:
                await self.handle(line.strip())
            except (VocError, StoreUnavailable) as error:
                self.refuse(error)
            await self.deliver()

    async def deliver(self) -> None:
        """Let the dispatcher post everything the last command caused."""
        if self.dispatcher is not None:
            while await self.dispatcher.run_once():
                pass

    async def handle(self, line: str) -> None:
        """Translate one typed line into one core call and show the result."""
        if not line:
            return
        if line.isdecimal():
            await self.press(int(line))
        elif line.startswith("/as"):
            await self.switch(line[3:].strip())
        elif line == "/people":
            self.show_people()
        elif line.startswith("/lang"):
            await self.set_language(line[5:].strip())
        elif line.startswith("/customer"):
            await self.voc_command(line[1:])
        elif line.startswith("/attach"):
            self.attach(line[7:].strip())
        elif line == "/help":
            self.write(self.t.gettext(HELP) + "\n" + self.t.gettext(KEYS))
        elif line == "/cancel":
            self.write(self.t.gettext("There is nothing to cancel: no question is open."))
        elif line == "/voc":
            await flows.report_step_by_step(self)
        elif line.startswith("/voc "):
            await self.voc_command(line[5:].strip())
        else:
            self.write(self.t.gettext("Commands start with /voc; type /voc help."))

    async def voc_command(self, rest: str) -> None:
        """`/voc SUBCOMMAND ...`, as in Slack."""
        word, _, arg = rest.partition(" ")
        word = word.lower()
        if word == "help":
            self.write(self.t.gettext(HELP) + "\n" + self.t.gettext(KEYS))
        elif word == "mine":
            mine = await asyncio.to_thread(self.service.mine, self.identity)
            self.show(mine_reply(mine, self.t))
        elif word == "queue":
            queue = await asyncio.to_thread(self.service.queue, self.identity, arg.strip() or None)
            self.show(queue_reply(queue, self.t))
        elif word in USAGE and not arg.strip():
            self.write(self.t.gettext(USAGE[word]))
        elif word == "show":
            signal = await asyncio.to_thread(self.service.show, self.identity, arg)
            self.show(detail_reply(signal, self.t))
        elif word == "score":
            value, _, comment = arg.strip().partition(" ")
            score = await asyncio.to_thread(self.service.record_score, self.identity, value,
                                            comment=comment or None)
            self.show(score_reply(score, self.t))
        elif word == "customer":
            found = await asyncio.to_thread(self.service.customer, self.identity, arg)
            self.show(customer_reply(found, self.t))
        elif word == "digest":
            self.show(await asyncio.to_thread(self.service.digest_preview, self.identity,
                                              arg.strip() or None))
        else:
            result = await asyncio.to_thread(self.service.capture, self.identity,
                                             Draft(word, arg, files=self.take_files()))
            self.show(capture_reply(result.signal, self.t, duplicate=result.duplicate,
                                    refused=result.refused))

    def attach(self, typed: str) -> None:
        """`/attach PATH`: a local file staged for the next report (the core checks it then)."""
        path = Path(typed).expanduser()
        if not typed or not path.is_file():
            self.write(self.t.gettext("Usage: /attach PATH (a file on this computer)."))
            return
        size = path.stat().st_size
        content = path.read_bytes() if size <= MAX_FILE_BYTES else None
        self.staged.append(IncomingFile(path.name, content, size))
        count = len(self.staged)
        self.write(self.t.ngettext("%(count)d file will go with your next report.",
                                   "%(count)d files will go with your next report.",
                                   count) % {"count": count})

    def take_files(self) -> tuple[IncomingFile, ...]:
        """The staged files, for the report being sent (then none are staged)."""
        files, self.staged = tuple(self.staged), []
        return files

    async def press(self, number: int) -> None:
        """Press a numbered button as the current person."""
        button = self.buttons.get(number)
        if button is None:
            self.write(self.t.gettext("There is no button %(n)d.") % {"n": number})
            return
        await flows.press(self, button)

    async def set_language(self, typed: str) -> None:
        """`/lang xx`; alone, the languages there are."""
        if not typed:
            self.write(self.t.gettext("Choose a language: /lang %(choices)s") % {
                "choices": "|".join(SUPPORTED_LOCALES)})
            return
        self.person = await asyncio.to_thread(self.service.set_locale, self.identity, typed)
        self.write(self.t.gettext("Language set."))

    # -- output ----------------------------------------------------------------------------
    def show(self, message: OutboundMessage) -> None:
        """Print a reply with its buttons numbered."""
        self.write(message.plain_text())
        self.write_buttons(message.buttons)

    def write_buttons(self, buttons: tuple[Button, ...]) -> None:
        """Number the buttons; the 0-10 rating row becomes one entry that asks for the value."""
        labels: list[str] = []
        rows_done: set[str] = set()
        for button in buttons:
            if button.action == "rate" or (button.action == "pulse"
                                           and button.value != "comment"):
                if button.action in rows_done:
                    continue
                rows_done.add(button.action)
                label = "0-10"  # the message around it says what it rates
            else:
                label = button.label
            number = next(self._numbers)
            self.buttons[number] = button
            labels.append(f"[{number}] {label}")
        if labels:
            self.write("  " + "  ".join(labels))

    async def show_delivery(self, destination: str, message: OutboundMessage, *,
                            updated: bool, thread: bool = False) -> None:
        """Print what arrived in a channel, group or DM (`thread`: under the card)."""
        where = await self.where(destination)
        edited = " " + self.t.gettext("(card updated)") if updated else ""
        if thread:
            edited = " " + self.t.gettext("(reply to the card)")
        self.write(f"── {where}{edited} ──")
        self.show(message)

    async def where(self, destination: str) -> str:
        """A readable name for a destination: a department's channel or a person's DM."""
        platform = destination.partition(":")[0]
        for department in self.company.departments:
            if addressed_at(department.addresses, destination):
                return f"{department.name} · {platform}"
        if addressed_at(self.company.leadership_addresses, destination):
            return self.t.gettext("Leadership") + f" · {platform}"
        person = await asyncio.to_thread(self.service.person, destination)
        name = person.display_name if person else destination
        return self.t.gettext("DM to %(name)s") % {"name": name} + f" · {platform}"

    def show_people(self) -> None:
        """Everyone named in the departments file, with their identities and roles."""
        for named in self.company.people:
            roles = [d.slug for d in self.company.departments
                     if set(named.identities) & set(d.heads)]
            head = (" — " + self.t.gettext("head of %(slugs)s") % {"slugs": ", ".join(roles)}
                    if roles else "")
            self.write(f"  {named.name}: {', '.join(named.identities)}{head}")

    async def switch(self, who: str) -> None:
        """Become another person, by identity or by (part of) their name."""
        identity = self.resolve_person(who)
        if ":" not in identity:  # a name nobody in the file has (or several have)
            self.write("⚠ " + self.t.gettext(
                "Nobody in the departments file is called “%(name)s”: /people lists everyone, "
                "or give an identity like slack:U0LOGHEAD.") % {"name": who.strip()[:40]})
            return
        self.person = await asyncio.to_thread(self.service.identify, identity)
        self.identity = identity
        assert self.person is not None
        roles = []
        if self.person.department:
            roles.append(self.department_name(self.person.department))
        if self.person.heads:
            roles.append(self.t.gettext("head of %(departments)s") % {
                "departments": ", ".join(map(self.department_name, self.person.heads))})
        self.write(self.t.gettext("You are %(name)s (%(identity)s)") % {
            "name": self.person.display_name, "identity": identity}
            + (f" — {'; '.join(roles)}" if roles else ""))

    def department_name(self, slug: str) -> str:
        """A department's name in the current person's language."""
        department = self.company.department(slug)
        return self.t.department(slug, department.name if department else slug)

    def resolve_person(self, who: str) -> str:
        """An identity as given, or the first identity of the person whose name matches."""
        who = who.strip()
        if ":" in who:
            return who
        matches = [p for p in self.company.people if who and who.lower() in p.name.lower()]
        return matches[0].identities[0] if len(matches) == 1 else who


def default_identity(company: Company) -> str:
    """Who the terminal starts as: the first department member the file names (an employee)."""
    for department in company.departments:
        if department.members:
            return department.members[0]
    for department in company.departments:
        if department.heads:
            return department.heads[0]
    return "slack:U0CONSOLE"


async def run_console(service: VocService, company: Company, identity: str, *,
                      stdin: TextIO, stdout: TextIO) -> bool:
    """The terminal chat with its own dispatcher, so deliveries print after each command;
    True when Ctrl-C ended it."""
    chat = ConsoleChat(service, company, identity, stdin, stdout)
    # Ordered delivery keeps the transcript (and so the button numbers) the same every time.
    chat.dispatcher = Dispatcher(service.db, [ConsolePort(chat)], clock=service.clock,
                                 ordered=True)
    loop = asyncio.get_running_loop()
    # Ctrl-C ends the chat without cutting a delivery in half (a row left mid-delivery would
    # be posted again by the next start): the reading stops, the command running finishes.
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
        loop.add_signal_handler(signal.SIGINT, chat.lines.interrupt)
    try:
        await chat.run()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
    return chat.lines.interrupted
