"""The core service: a thin facade that offers every use case to the adapters and jobs.

Each use case lives in a module of its own (capture, cases, queues, people, pulses, reminders)
and is one transaction: the state change, its audit event and the messages it causes (outbox
rows) commit together or not at all. Methods are synchronous; adapters call them with
`await asyncio.to_thread(...)` so database work never blocks their event loop. Capture, the call
every chat request waits on, also has `submit_capture`, which group-commits concurrent requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core.capture import albums as attaching
from bot.core.capture import reports as capturing
from bot.core.capture.albums import Added
from bot.core.capture.evidence import IncomingFile
from bot.core.capture.group_commit import GroupCommit
from bot.core.capture.reports import Draft
from bot.core.handling import actions as case_actions
from bot.core.handling import customer_accounts, queues
from bot.core.handling import merging as joining
from bot.core.handling import questions as conversation
from bot.core.handling import workflow as cases
from bot.core.handling.customer_accounts import CustomerResult
from bot.core.meaning.layer import CASES
from bot.core.people import directory as people
from bot.core.presentation.messages import OutboundMessage
from bot.core.presentation.views import (
    CaptureResult,
    DepartmentView,
    PersonView,
    PulseView,
    QueueView,
    ScoreView,
    SignalView,
)
from bot.core.reporting import at_risk, customer_story, digest, pulses
from bot.core.reporting.customer_story import CustomerStory
from bot.core.shared.company import Company
from bot.core.shared.context import Core, utc_now
from bot.core.shared.errors import InvalidInput
from bot.core.shared.platforms import platform_of
from bot.core.shared.telemetry import emit
from storage.db import Database

if TYPE_CHECKING:
    from bot.core.meaning.port import Embedder

__all__ = ["Added", "Draft", "IncomingFile", "VocService", "utc_now"]


class VocService(Core):
    """Capture, route, acknowledge, resolve, reassign, reopen, rate; queues, pulses, people."""

    def __init__(self, db: Database, company: Company, *,
                 clock: Callable[[], datetime] = utc_now, list_limit: int = 50,
                 embedder: Embedder | None = None, language_cases: int = CASES) -> None:
        super().__init__(db, company, clock=clock, list_limit=list_limit, embedder=embedder,
                         language_cases=language_cases)
        # Captures from every adapter share batches. SQLite has one writer at a time; on
        # PostgreSQL two batches overlap so one's round trips hide the other's.
        self.captures: GroupCommit[tuple[str, Draft], CaptureResult] = GroupCommit(
            self.capture_many, parallel=1 if db.dialect == "sqlite" else 2)

    # -- people ----------------------------------------------------------------------------
    def identify(self, identity: str, *, display_name: str | None = None,
                 platform_locale: str | None = None) -> PersonView:
        """The person behind an identity, created on first contact; profile data refreshed."""
        return people.identify(self, identity, display_name=display_name,
                               platform_locale=platform_locale)

    def set_locale(self, actor: str, locale: str) -> PersonView:
        """The person's chosen language (en, ru, zh)."""
        return people.set_locale(self, actor, locale)

    def choose_department(self, actor: str, slug: str) -> PersonView:
        """Someone the departments file does not place picks their own department."""
        return people.choose_department(self, actor, slug)

    def person(self, identity: str) -> PersonView | None:
        """The person behind an identity, if known (no side effects)."""
        return people.person(self, identity)

    def departments(self) -> list[DepartmentView]:
        """Active departments, for pickers."""
        return people.departments(self)

    def find_department(self, typed: str) -> DepartmentView:
        """The active department a person typed, or a refusal listing the known ones."""
        return people.find_department(self, typed)

    @staticmethod
    def check_answer(field: str, value: Any) -> Any:
        """One answer of a step-by-step report, checked as capture checks it."""
        return capturing.check_answer(field, value)

    def require_leadership(self, actor: str) -> PersonView:
        """The actor, if leadership or an admin (digests, exports); Forbidden otherwise."""
        return people.require_leadership(self, actor)

    # -- capture ---------------------------------------------------------------------------
    def capture(self, actor: str, draft: Draft) -> CaptureResult:
        """Store a signal, route it (suggested or chosen department) and queue its cards."""
        started = time.perf_counter()
        outcome = self.capture_many([(actor, draft)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        emit("capture_latency", platform=platform_of(actor), seconds=time.perf_counter() - started)
        return outcome

    async def submit_capture(self, actor: str, draft: Draft) -> CaptureResult:
        """`capture` from an event loop: written in a worker thread, in one transaction with
        the captures that arrive meanwhile (bot/core/capture/group_commit.py)."""
        started = time.perf_counter()
        await self.meaning.prepare([draft.text])  # off the loop, before the transaction
        result = await self.captures.submit((actor, draft))
        emit("capture_latency", platform=platform_of(actor), seconds=time.perf_counter() - started)
        return result

    def capture_many(self, requests: Sequence[tuple[str, Draft]]
                     ) -> list[CaptureResult | Exception]:
        """`capture` for many reporters in one transaction; per request, its result or why it
        failed."""
        outcomes = capturing.capture_many(self, requests)
        for (actor, _), outcome in zip(requests, outcomes, strict=True):
            if not isinstance(outcome, Exception) and not outcome.duplicate:
                emit("captured", platform=platform_of(actor), kind=outcome.signal.kind)
        return outcomes

    @staticmethod
    def draft_problems(draft: Draft) -> dict[str, InvalidInput]:
        """What `capture` would refuse in each field of a draft, by field name."""
        return capturing.draft_problems(draft)

    def add_to_album(self, actor: str, album: str, files: Sequence[IncomingFile], *,
                     source: str) -> Added:
        """The files of a Telegram album's later item, added to the report its first item
        made (`Added.signal` None: no report has that album)."""
        return attaching.add_to_album(self, actor, album, files, source=source)

    def suggest(self, text: str) -> DepartmentView:
        """The department the text would be routed to (for preselecting it in a form)."""
        return capturing.suggest(self, text)

    def record_score(self, actor: str, value: int | str, *, customer: str | None = None,
                     comment: str | None = None, segment: str | None = None,
                     dedupe_key: str | None = None) -> ScoreView:
        """A customer's 0-10 NPS answer, reported from chat (once per `dedupe_key`)."""
        return capturing.record_score(self, actor, value, customer=customer, comment=comment,
                                      segment=segment, dedupe_key=dedupe_key)

    # -- working a case --------------------------------------------------------------------
    def check(self, actor: str, ref: str, action: str) -> SignalView:
        """Raise the refusal `action` would get on `ref` now, changing nothing."""
        return case_actions.check(self, actor, ref, action)

    def perform(self, actor: str, action: str, ref: str, *, text: str = "",
                department: str = "", value: str = "") -> SignalView:
        """Any action on a case with what the person gave (note, department, value)."""
        return case_actions.perform(self, actor, action, ref, text=text,
                                    department=department, value=value)

    def acknowledge(self, actor: str, ref: str) -> SignalView:
        """A head of the owning department takes the signal on."""
        return cases.acknowledge(self, actor, ref)

    def resolve(self, actor: str, ref: str, note: str, *, code: str = "") -> SignalView:
        """A head closes the signal with a note saying what was done (and a resolution code
        when the company keeps them)."""
        return cases.resolve(self, actor, ref, note, code=code)

    def check_resolution_code(self, typed: str) -> str | None:
        """The resolution code typed (a code, a label or its number), or the refusal."""
        return cases.resolution_code(self, typed)

    def resolution_codes(self, locale: str | None = None) -> list[tuple[str, str]]:
        """The company's resolution codes with their labels in `locale` (none: not asked)."""
        chosen = self.translator(locale).locale
        return [(code, self.company.resolution_label(code, chosen))
                for code in self.company.resolution_codes]

    def reassign(self, actor: str, ref: str, department: str, reason: str) -> SignalView:
        """A head passes the signal to another department, saying why."""
        return cases.reassign(self, actor, ref, department, reason)

    def change_department(self, actor: str, ref: str, department: str) -> SignalView:
        """The reporter corrects the suggested department, before anyone acknowledged it."""
        return cases.change_department(self, actor, ref, department)

    def reopen(self, actor: str, ref: str, reason: str) -> SignalView:
        """The reporter says it is not resolved: back to the same department."""
        return cases.reopen(self, actor, ref, reason)

    def rate(self, actor: str, ref: str, value: int | str) -> SignalView:
        """The reporter rates the handling once: an internal NPS answer for the department."""
        return cases.rate(self, actor, ref, value)

    # -- the case as a conversation -------------------------------------------------------
    def ask(self, actor: str, ref: str, question: str) -> SignalView:
        """A head asks the reporter a question (by DM, with a "Reply" button)."""
        return conversation.ask(self, actor, ref, question)

    def answer(self, actor: str, ref: str, text: str) -> SignalView:
        """The reporter answers the open question; it is posted under every card."""
        return conversation.answer(self, actor, ref, text)

    def answer_message(self, actor: str, destination: str, message_id: str, text: str
                       ) -> SignalView:
        """A reply to the bot's message `message_id` in `destination`: the answer to the
        question it asked, or a refusal if it asked none."""
        return conversation.answer_message(self, actor, destination, message_id, text)

    def join(self, actor: str, ref: str, case: str) -> SignalView:
        """"Add me to VOC-12": the reporter merges their new report into an open case."""
        return joining.join(self, actor, ref, case)

    def merge(self, actor: str, ref: str, case: str) -> SignalView:
        """A head merges a case of their department into another open one."""
        return joining.merge(self, actor, ref, case)

    # -- lists -----------------------------------------------------------------------------
    def mine(self, actor: str) -> list[SignalView]:
        """The actor's newest reports."""
        return queues.mine(self, actor)

    def queue(self, actor: str, department: str | None = None) -> QueueView:
        """A department's open signals, overdue first: the actor's own unless one is named."""
        return queues.queue(self, actor, department)

    def show(self, actor: str, ref: str) -> SignalView:
        """One signal with its history, for those allowed to see it."""
        return queues.show(self, actor, ref)

    def tell_owners_at_risk(self) -> int:
        """Tell account owners, once, when their customer turns at risk; how many turned."""
        return at_risk.tell_owners(self)

    def customer(self, actor: str, text: str) -> CustomerResult:
        """`/customer TEXT`: a customer's story, or a merge or split of accounts."""
        return customer_accounts.customer(self, actor, text)

    def customer_story(self, actor: str, reference: str) -> CustomerStory:
        """A customer's signals across departments, NPS, open cases and last contact."""
        return customer_story.customer_story(self, actor, reference)

    # -- leadership ------------------------------------------------------------------------
    def digest_preview(self, actor: str, week: str | None = None) -> OutboundMessage:
        """The week's digest for the actor: the company's for leadership and admins, their
        department's for heads; Forbidden for anyone else."""
        return digest.digest_preview(self, actor, week)

    # -- pulses ----------------------------------------------------------------------------
    def answer_pulse(self, actor: str, ref: str, value: int | str,
                     comment: str | None = None) -> PulseView:
        """An internal NPS pulse answer, once per person, supplier and round (or its
        comment)."""
        return pulses.answer_pulse(self, actor, ref, value, comment)
