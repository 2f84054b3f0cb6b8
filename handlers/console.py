"""Terminal chat: the same commands as in Slack, against the same core, with numbered buttons.

Everything the bot would post to Slack or Telegram (department cards, DMs) is delivered through
the outbox to `ConsolePort`, which prints it, so the whole loop is visible in one terminal.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import TextIO

from bot.core.actions import RULES, action_of
from bot.core.company import Company
from bot.core.delivery import RateLimit
from bot.core.domain import Action
from bot.core.errors import Unavailable, VocError, as_refusal
from bot.core.i18n import N_, Translator
from bot.core.messages import Button, OutboundFile, OutboundMessage
from bot.core.render import (
    action_done,
    capture_reply,
    detail_reply,
    mine_reply,
    pulse_thanks,
    queue_reply,
    score_reply,
)
from bot.core.service import Draft, VocService
from bot.core.views import PersonView, SignalView
from jobs.dispatcher import Dispatcher
from storage.db import StoreUnavailable

HELP = N_("""Commands (the same as /voc in Slack):
  /voc complaint|praise|idea TEXT   report at once (the department is suggested)
  /voc                              report step by step (kind, text, customer, score, ...)
  /voc score N [COMMENT]            record a customer's 0-10 score
  /voc mine                         your reports and their status
  /voc queue [DEPARTMENT]           a department's open items, overdue first
  /voc show VOC-N                   one item with its history
  /as PERSON                        act as someone else (identity like slack:U0LOGHEAD, or a name)
  /people                           who is in the departments file
  /lang en|ru|zh                    your language
  NUMBER                            press the button with that number
  /quit                             leave""")


class ConsolePort:
    """A delivery port that prints what Slack or Telegram would show."""

    platforms: tuple[str, ...] = ("slack", "telegram")
    rate_limit = RateLimit(per_destination=(1000, 1.0))

    def __init__(self, chat: ConsoleChat) -> None:
        self.chat = chat
        self.sent: dict[str, str] = {}
        self._ids = itertools.count(1)

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str) -> str:
        """Print a new message and remember its id."""
        message_id = f"m{next(self._ids)}"
        self.sent[dedupe_key] = message_id
        await self.chat.show_delivery(destination, message, updated=False)
        return message_id

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        """Print the new version of a message (a chat app would edit it in place)."""
        await self.chat.show_delivery(destination, message, updated=True)

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str) -> str:
        """Print that a file was posted."""
        message_id = f"f{next(self._ids)}"
        self.sent[dedupe_key] = message_id
        self.chat.write(f"── {await self.chat.where(destination)} ── [{file.filename}, "
                        f"{len(file.content) // 1024 + 1} KB] {file.caption}")
        return message_id

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        """What this terminal printed before under that key."""
        return self.sent.get(dedupe_key)


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
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def t(self) -> Translator:
        """The current person's language."""
        return self.service.translator(self.person.locale if self.person else None)

    def write(self, text: str = "") -> None:
        """Print a line and flush (the tour is often piped)."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    async def read(self, prompt: str) -> str | None:
        """One line of input; None at end of input."""
        self.stdout.write(prompt)
        self.stdout.flush()
        line = await asyncio.to_thread(self.stdin.readline)
        if not line:
            return None
        if not self.stdin.isatty():  # echo piped input so a transcript reads like a dialog
            self.stdout.write(line if line.endswith("\n") else line + "\n")
        return line.rstrip("\n")

    async def ask(self, prompt: str) -> str | None:
        """An answer to a question; a /command instead cancels the question (None)."""
        answer = await self.read(prompt)
        if answer is not None and answer.strip().startswith("/"):
            self.write(self.t.gettext("Cancelled."))
            return None
        return answer

    # -- main loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """Greet, then read commands until /quit or end of input."""
        await self.switch(self.identity)
        self.write(self.t.gettext("Type /voc help for commands, /quit to leave."))
        await self.deliver()
        while True:
            line = await self.read(f"{self.person.display_name if self.person else '?'}> ")
            if line is None or line.strip() in ("/quit", "/exit"):
                break
            try:
                await self.handle(line.strip())
            except (VocError, StoreUnavailable) as error:
                self.write("⚠ " + (as_refusal(error) or Unavailable()).render(self.t))
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
            self.person = await asyncio.to_thread(self.service.set_locale, self.identity,
                                                  line[5:].strip())
            self.write(self.t.gettext("Language set."))
        elif line == "/voc":
            await self.report_step_by_step()
        elif line.startswith("/voc "):
            await self.voc_command(line[5:].strip())
        else:
            self.write(self.t.gettext("Commands start with /voc; type /voc help."))

    async def voc_command(self, rest: str) -> None:
        """`/voc SUBCOMMAND ...`, as in Slack."""
        word, _, arg = rest.partition(" ")
        word = word.lower()
        if word == "help":
            self.write(self.t.gettext(HELP))
        elif word == "mine":
            mine = await asyncio.to_thread(self.service.mine, self.identity)
            self.show(mine_reply(mine, self.t))
        elif word == "queue":
            queue = await asyncio.to_thread(self.service.queue, self.identity, arg.strip() or None)
            self.show(queue_reply(queue, self.t))
        elif word == "show":
            signal = await asyncio.to_thread(self.service.show, self.identity, arg)
            self.show(detail_reply(signal, self.t))
        elif word == "score":
            value, _, comment = arg.strip().partition(" ")
            score = await asyncio.to_thread(self.service.record_score, self.identity, value,
                                     comment=comment or None)
            self.show(score_reply(score, self.t))
        else:
            result = await asyncio.to_thread(self.service.capture, self.identity, Draft(word, arg))
            self.show(capture_reply(result.signal, self.t, duplicate=result.duplicate))

    async def report_step_by_step(self) -> None:
        """The capture modal, as questions: kind, text, customer, score, department, anonymous."""
        t = self.t
        kind = await self.ask(t.gettext("Kind (complaint, praise, idea): "))
        text = None if kind is None else await self.ask(t.gettext("What did the customer say? "))
        if kind is None or text is None:
            return
        customer = await self.ask(t.gettext("Customer (optional): "))
        score = await self.ask(t.gettext("Customer's score 0-10 (optional): "))
        suggested = await asyncio.to_thread(self.service.suggest, text) if text.strip() else None
        department = await self.pick_department(suggested.slug if suggested else None)
        anonymous = await self.ask(t.gettext("Anonymous? (y/N): "))
        if customer is None or score is None or department is None or anonymous is None:
            return
        draft = Draft(kind, text, customer=customer, score=score or None,
                      department=department,
                      anonymous=(anonymous or "").strip().lower() in ("y", "yes", "д", "да"))
        result = await asyncio.to_thread(self.service.capture, self.identity, draft)
        self.show(capture_reply(result.signal, self.t, duplicate=result.duplicate))

    async def pick_department(self, suggested: str | None) -> str | None:
        """Numbered list of departments; Enter keeps the suggestion."""
        departments = await asyncio.to_thread(self.service.departments)
        for number, department in enumerate(departments, 1):
            mark = " *" if department.slug == suggested else ""
            self.write(f"  {number}. {department.name} ({department.slug}){mark}")
        typed = await self.ask(self.t.gettext("Department (number or slug, Enter = *): "))
        if typed is None:
            return None
        answer = typed.strip()
        if answer.isdecimal() and 1 <= int(answer) <= len(departments):
            return str(departments[int(answer) - 1].slug)
        return answer or suggested

    # -- buttons ---------------------------------------------------------------------------
    async def press(self, number: int) -> None:
        """Press a numbered button as the current person."""
        button = self.buttons.get(number)
        if button is None:
            self.write(self.t.gettext("There is no button %(n)d.") % {"n": number})
            return
        if button.action == "pulse":
            await self._pulse(button)
            return
        action = action_of(button.action)
        if action is None:
            self.write("⚠ " + self.t.gettext("This button is no longer supported."))
            return
        signal = await self._act(action, button)
        if signal is not None:
            self.show(action_done(signal, action, self.t))

    async def _act(self, action: Action, button: Button) -> SignalView | None:
        """Ask what the action needs (after the core said it is allowed), then do it."""
        rule, me, ref = RULES[action], self.identity, button.ref
        if rule.asks_first:  # refuse before anyone types a note in vain
            await asyncio.to_thread(self.service.check, me, ref, action)
        department = await self.pick_department(None) if rule.needs_department else ""
        text = await self.ask(self.t.gettext(rule.note_prompt)) if rule.note_prompt else ""
        value: str | None = button.value or ""
        if action == Action.RATE:  # the 0-10 row is one entry here: it asks for the value
            value = await self.ask(self.t.gettext("Your rating 0-10: "))
        if department is None or text is None or value is None:
            return None
        return await asyncio.to_thread(self.service.perform, me, action, ref, text=text,
                                       department=department, value=value)

    async def _pulse(self, button: Button) -> None:
        """An internal NPS pulse answer (the 0-10 row asks for the value), or its comment."""
        me, ref = self.identity, button.ref
        if button.value == "comment":
            text = await self.ask(self.t.gettext("Your comment: "))
            value: str | None = "comment"
        else:
            text, value = None, await self.ask(self.t.gettext("Your answer 0-10: "))
        if value is None or (button.value == "comment" and text is None):
            return
        pulse = await asyncio.to_thread(self.service.answer_pulse, me, ref, value, text)
        self.show(pulse_thanks(pulse, self.t))

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
                            updated: bool) -> None:
        """Print what arrived in a channel, group or DM."""
        where = await self.where(destination)
        edited = " " + self.t.gettext("(card updated)") if updated else ""
        self.write(f"── {where}{edited} ──")
        self.show(message)

    async def where(self, destination: str) -> str:
        """A readable name for a destination: a department's channel or a person's DM."""
        platform, _, target = destination.partition(":")
        for department in self.company.departments:
            if (platform == "slack" and department.slack_channel == target) or (
                    platform == "telegram" and str(department.telegram_chat) == target):
                return f"{department.name} · {platform}"
        if target in (self.company.leadership_slack_channel,
                      str(self.company.leadership_telegram_chat)):
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
        self.person = await asyncio.to_thread(self.service.identify, identity)
        self.identity = identity
        assert self.person is not None
        roles = []
        if self.person.department:
            roles.append(self.person.department)
        if self.person.heads:
            roles.append(self.t.gettext("head of %(slugs)s") % {
                "slugs": ", ".join(self.person.heads)})
        self.write(self.t.gettext("You are %(name)s (%(identity)s)") % {
            "name": self.person.display_name, "identity": identity}
            + (f" — {'; '.join(roles)}" if roles else ""))

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
                      stdin: TextIO, stdout: TextIO) -> None:
    """The terminal chat with its own dispatcher, so deliveries print after each command."""
    chat = ConsoleChat(service, company, identity, stdin, stdout)
    # Ordered delivery keeps the transcript (and so the button numbers) the same every time.
    chat.dispatcher = Dispatcher(service.db, [ConsolePort(chat)], clock=service.clock,
                                 ordered=True)
    await chat.run()
