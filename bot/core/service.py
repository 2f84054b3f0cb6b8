"""The core service: every use case of the loop, its rules and its rights, platform-free.

Each use case is one transaction: the state change, its audit event and the messages it causes
(outbox rows) commit together or not at all. Methods are synchronous; adapters call them with
`await asyncio.to_thread(...)` so database work never blocks their event loop. Capture, the call
every chat request waits on, also has `submit_capture`, which group-commits concurrent requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core import inputs, render
from bot.core.cadence import round_bounds
from bot.core.capture import ParsedDraft, parse_draft, write_signals
from bot.core.company import Company
from bot.core.errors import Forbidden, InvalidInput, InvalidTransition, NotFound, VocError
from bot.core.group_commit import GroupCommit
from bot.core.i18n import N_, SUPPORTED_LOCALES, Translator, normalise_locale
from bot.core.identity import is_valid_identity
from bot.core.messages import OutboundMessage
from bot.core.routing import DepartmentProfile, Router
from bot.core.views import (
    CaptureResult,
    DepartmentView,
    EventView,
    Kind,
    PersonView,
    PulseView,
    QueueView,
    ScoreView,
    SignalView,
    Status,
    format_ref,
)
from storage import queries as q
from storage.db import Database
from storage.models import Department, Person, Score, Signal
from storage.outbox import NewMessage, enqueue

DEPARTMENTS_TTL = 30.0  # seconds a running bot may use department rows read before a sync


def utc_now() -> datetime:
    """The real clock (tests and the demo pass their own)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Draft:
    """A signal as the reporter typed it; the core validates every field."""

    kind: str
    text: str
    customer: str | None = None
    score: int | str | None = None
    anonymous: bool = False
    source_link: str | None = None
    department: str | None = None  # a slug; None means "use the suggestion"
    dedupe_key: str | None = None  # the platform event id, so a re-delivery stores nothing new


class VocService:
    """Capture, route, acknowledge, resolve, reassign, reopen, rate; queues and rights."""

    def __init__(self, db: Database, company: Company, *,
                 clock: Callable[[], datetime] = utc_now, list_limit: int = 50) -> None:
        self.db = db
        self.company = company
        self.clock = clock
        self.list_limit = list_limit
        self._translators: dict[str, Translator] = {}
        self._departments: tuple[float, dict[str, Any]] = (-DEPARTMENTS_TTL, {})
        # Captures from every adapter share batches. SQLite has one writer at a time; on
        # PostgreSQL two batches overlap so one's round trips hide the other's.
        self.captures: GroupCommit[tuple[str, Draft], CaptureResult] = GroupCommit(
            self.capture_many, parallel=1 if db.dialect == "sqlite" else 2)
        self.router = Router(
            [DepartmentProfile(d.slug, d.name, d.description, d.keywords)
             for d in company.departments],
            company.triage,
        )

    # -- people ----------------------------------------------------------------------------
    def translator(self, locale: str | None = None) -> Translator:
        """A translator in company time for `locale` (the company language by default)."""
        locale = locale or self.company.locale
        locale = locale if locale in SUPPORTED_LOCALES else "en"  # as Translator does
        translator = self._translators.get(locale)
        if translator is None:  # one per language: every reply and card needs one
            translator = self._translators[locale] = Translator(locale, self.company.timezone)
        return translator

    def identify(self, identity: str, *, display_name: str | None = None,
                 platform_locale: str | None = None) -> PersonView:
        """The person behind an identity, created on first contact; profile data refreshed."""
        name = inputs.strip_controls(display_name or "")[:200] or None
        with self.db.write() as session:
            person = self._person(session, identity, display_name=name)
            locale = normalise_locale(platform_locale)
            if locale and person.platform_locale != locale:
                person.platform_locale = locale
            if name and person.display_name == identity:
                person.display_name = name
            session.add(person)
            return self._person_view(session, person)

    def set_locale(self, actor: str, locale: str) -> PersonView:
        """The person's chosen language (en, ru, zh)."""
        chosen = normalise_locale(locale)
        if chosen is None:
            raise InvalidInput(N_("Unknown language “%(value)s”: choose one of %(choices)s."),
                               value=locale[:20], choices=", ".join(SUPPORTED_LOCALES))
        with self.db.write() as session:
            person = self._person(session, actor)
            person.locale = chosen
            session.add(person)
            return self._person_view(session, person)

    def choose_department(self, actor: str, slug: str) -> PersonView:
        """Someone the departments file does not place picks their own department."""
        with self.db.write() as session:
            person = self._person(session, actor)
            if person.department_id is not None:
                raise Forbidden(N_("The departments file places you in %(department)s; ask an "
                                   "admin to change it."),
                                department=self._department(session, person.department_id).name)
            person.chosen_department_id = self._id(self._department_by_slug(session, slug))
            session.add(person)
            return self._person_view(session, person)

    def departments(self) -> list[DepartmentView]:
        """Active departments, for pickers."""
        with self.db.read() as session:
            return [self._department_view(d) for d in q.active_departments(session=session)]

    # -- capture ---------------------------------------------------------------------------
    def capture(self, actor: str, draft: Draft) -> CaptureResult:
        """Store a signal, route it (suggested or chosen department) and queue its cards."""
        outcome = self.capture_many([(actor, draft)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def submit_capture(self, actor: str, draft: Draft) -> CaptureResult:
        """`capture` from an event loop: written in a worker thread, in one transaction with
        the captures that arrive meanwhile (bot/core/group_commit.py)."""
        return await self.captures.submit((actor, draft))

    def capture_many(self, requests: Sequence[tuple[str, Draft]]
                     ) -> list[CaptureResult | Exception]:
        """`capture` for many reporters in one transaction (group commit); per request, its
        result or why it failed, so one bad request never costs the others theirs."""
        outcomes: list[CaptureResult | Exception | None] = [None] * len(requests)
        parsed: list[tuple[int, ParsedDraft]] = []
        for index, (actor, draft) in enumerate(requests):
            try:
                parsed.append((index, parse_draft(self, actor, draft)))
            except VocError as error:
                outcomes[index] = error
        drafts = [draft for _, draft in parsed]
        try:
            written = self._write_captures(drafts) if drafts else []
        except IntegrityError as error:
            # A platform re-delivered an event whose signal is stored (same dedupe key), maybe
            # by another worker a moment ago: alone, each draft finds out which.
            written = ([self._capture_alone(draft) for draft in drafts] if len(drafts) > 1
                       else [self._stored_before(drafts[0], error)])
        for (index, _), outcome in zip(parsed, written, strict=True):
            outcomes[index] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    def _write_captures(self, drafts: Sequence[ParsedDraft]) -> list[CaptureResult | Exception]:
        with self.db.write() as session:
            return [view if isinstance(view, VocError) else CaptureResult(view)
                    for view in write_signals(self, session, drafts)]

    def _capture_alone(self, draft: ParsedDraft) -> CaptureResult | Exception:
        try:
            return self._write_captures([draft])[0]
        except IntegrityError as error:
            return self._stored_before(draft, error)
        except Exception as error:  # this draft's own failure, reported to its reporter only
            return error

    def _stored_before(self, draft: ParsedDraft, conflict: IntegrityError
                       ) -> CaptureResult | Exception:
        """The signal stored before under the draft's dedupe key, else the conflict itself."""
        with self.db.read() as session:
            key = draft.dedupe_key
            seen = key and q.signal_by_dedupe_key(session=session, dedupe_key=key)
            if not seen:
                return conflict
            return CaptureResult(self._view_for(session, seen, draft.actor), duplicate=True)

    @staticmethod
    def draft_problems(draft: Draft) -> dict[str, InvalidInput]:
        """What `capture` would refuse in each field of a draft, by field name (changes
        nothing): forms show every problem next to its field at once."""
        checks: dict[str, Callable[[], object]] = {
            "kind": lambda: inputs.parse_kind(draft.kind),
            "text": lambda: inputs.signal_text(draft.text),
            "customer": lambda: inputs.optional_text(draft.customer, inputs.MAX_CUSTOMER),
            "score": lambda: None if draft.score in (None, "") else inputs.parse_score(
                draft.score),
        }
        problems: dict[str, InvalidInput] = {}
        for name, check in checks.items():
            try:
                check()
            except InvalidInput as error:
                problems[name] = error
        return problems

    def suggest(self, text: str) -> DepartmentView:
        """The department the text would be routed to (for preselecting it in a form)."""
        suggestion = self.router.suggest(text)
        with self.db.read() as session:
            department = q.department_by_slug(session=session, slug=suggestion.slug)
            if department is None:
                raise NotFound(N_("Unknown department “%(slug)s”."), slug=suggestion.slug)
            return self._department_view(department)

    def record_score(self, actor: str, value: int | str, *, customer: str | None = None,
                     comment: str | None = None, segment: str | None = None) -> ScoreView:
        """A customer's 0-10 NPS answer, reported from chat."""
        score_value = inputs.parse_score(value)
        with self.db.write() as session:
            person = self._person(session, actor)
            score = Score(kind="customer", source="chat", value=score_value, at=self.clock(),
                          customer=inputs.optional_text(customer, inputs.MAX_CUSTOMER),
                          segment=inputs.optional_text(segment, 100),
                          comment=inputs.optional_text(comment, inputs.MAX_NOTE),
                          person_id=person.id)
            session.add(score)
            session.flush()
            assert score.id is not None
            return ScoreView(score.id, score.value, score.customer, score.comment)

    # -- the loop --------------------------------------------------------------------------
    def acknowledge(self, actor: str, ref: str) -> SignalView:
        """A head of the owning department takes the signal on."""
        with self.db.write() as session:
            person, signal = self._for_head(session, actor, ref)
            if signal.status == Status.ACKNOWLEDGED:
                raise InvalidTransition(N_("%(ref)s is already acknowledged."),
                                        ref=format_ref(self._id(signal)))
            self._require_open(signal)
            now = self.clock()
            signal.status, signal.acknowledged_at, signal.updated_at = (
                Status.ACKNOWLEDGED, now, now)
            event = self._event(session, signal, person, "acknowledged", {})
            self._after_change(session, signal, event, notify_reporter=True)
            return self._view(session, signal, viewer=person)

    def resolve(self, actor: str, ref: str, note: str) -> SignalView:
        """A head closes the signal with a note saying what was done."""
        text = inputs.required_note(note, what="note")
        with self.db.write() as session:
            person, signal = self._for_head(session, actor, ref)
            self._require_open(signal)
            now = self.clock()
            signal.status, signal.resolved_at, signal.updated_at = Status.RESOLVED, now, now
            signal.acknowledged_at = signal.acknowledged_at or now
            event = self._event(session, signal, person, "resolved", {"note": text})
            self._after_change(session, signal, event, notify_reporter=True)
            return self._view(session, signal, viewer=person)

    def reassign(self, actor: str, ref: str, department: str, reason: str) -> SignalView:
        """A head passes the signal to another department, saying why."""
        why = inputs.required_note(reason, what="reason")
        with self.db.write() as session:
            person, signal = self._for_head(session, actor, ref)
            self._require_open(signal)
            self._move(session, signal, person, department, "reassigned", {"reason": why})
            return self._view(session, signal, viewer=person)

    def change_department(self, actor: str, ref: str, department: str) -> SignalView:
        """The reporter corrects the suggested department, before anyone acknowledged it."""
        with self.db.write() as session:
            person, signal = self._for_reporter(session, actor, ref)
            self._require_reroutable(signal)
            self._move(session, signal, person, department, "rerouted", {})
            return self._view(session, signal, viewer=person)

    def reopen(self, actor: str, ref: str, reason: str) -> SignalView:
        """The reporter says it is not resolved: back to the same department."""
        why = inputs.required_note(reason, what="reason")
        with self.db.write() as session:
            person, signal = self._for_reporter(session, actor, ref)
            if signal.status != Status.RESOLVED:
                raise InvalidTransition(N_("%(ref)s is not resolved, so it cannot be reopened."),
                                        ref=format_ref(self._id(signal)))
            department = self._department(session, signal.department_id)
            self._route(signal, department)
            signal.resolved_at = None
            event = self._event(session, signal, person, "reopened", {"reason": why})
            self._after_change(session, signal, event, notify_reporter=False)
            view = self._view(session, signal, viewer=None)
            notice = render.reopened_notice(view, self._event_view(view, event),
                                            self.translator())
            self._to_department(session, department, f"reopened:{event.id}", notice)
            return self._view(session, signal, viewer=person)

    def rate(self, actor: str, ref: str, value: int | str) -> SignalView:
        """The reporter rates the handling once: an internal NPS answer for the department."""
        score_value = inputs.parse_score(value)
        with self.db.write() as session:
            person, signal = self._for_reporter(session, actor, ref)
            if signal.status != Status.RESOLVED:
                raise InvalidTransition(N_("%(ref)s can be rated once it is resolved."),
                                        ref=format_ref(self._id(signal)))
            if q.handling_rating(session=session, signal_id=self._id(signal)) is not None:
                raise InvalidTransition(N_("You have already rated %(ref)s."),
                                        ref=format_ref(self._id(signal)))
            session.add(Score(kind="internal", source="handling", value=score_value,
                              at=self.clock(), signal_id=signal.id, person_id=person.id,
                              rater_department_id=signal.reporter_department_id,
                              rated_department_id=signal.department_id,
                              dedupe_key=f"handling:{signal.id}"))
            event = self._event(session, signal, person, "rated", {"value": score_value})
            self._after_change(session, signal, event, notify_reporter=False)
            return self._view(session, signal, viewer=person)

    # -- lists -----------------------------------------------------------------------------
    def mine(self, actor: str) -> list[SignalView]:
        """The actor's newest reports."""
        with self.db.read() as session:
            person = q.person_by_identity(session=session, identity=actor)
            if person is None:
                return []
            rows = q.signals_of_reporter(session=session, reporter_id=self._id(person),
                                         limit=self.list_limit)
            return [self._view(session, s, viewer=person, history=False) for s in rows]

    def queue(self, actor: str, department: str | None = None) -> QueueView:
        """A department's open signals, overdue first: the actor's own unless one is named."""
        with self.db.read() as session:
            person = q.person_by_identity(session=session, identity=actor)
            headed = q.headed_departments(session=session, person_id=person.id) if (
                person and person.id) else []
            if department:
                chosen = self._department_by_slug(session, department)
            elif headed:
                chosen = headed[0]
            elif person is not None and (own := self._department_id_of(person)) is not None:
                chosen = self._department(session, own)
            else:
                raise InvalidInput(N_("You are not in any department: name one, e.g. "
                                      "/voc queue logistics."))
            self._require_can_view(session, person, chosen)
            rows, overdue = q.open_queue(session=session, department_id=self._id(chosen),
                                         now=self.clock(), limit=self.list_limit)
            others = tuple(d.slug for d in headed if d.id != chosen.id)
            return QueueView(self._department_view(chosen),
                             tuple(self._view(session, s, viewer=person, history=False)
                                   for s in rows), overdue, others)

    def show(self, actor: str, ref: str) -> SignalView:
        """One signal with its history, for those allowed to see it."""
        with self.db.read() as session:
            person = q.person_by_identity(session=session, identity=actor)
            signal = self._signal(session, ref)
            if person is None or signal.reporter_id != person.id:
                self._require_can_view(session, person,
                                       self._department(session, signal.department_id))
            return self._view(session, signal, viewer=person)

    # -- leadership and pulses -------------------------------------------------------------
    def require_leadership(self, actor: str) -> PersonView:
        """The actor, if leadership or an admin (digests, exports); Forbidden otherwise."""
        person = self.person(actor)
        if person is None or not (person.is_leadership or person.is_admin):
            raise Forbidden(N_("Only leadership and admins can see the company digest."))
        return person

    def answer_pulse(self, actor: str, ref: str, value: int | str,
                     comment: str | None = None) -> PulseView:
        """An internal NPS pulse answer (`value` 0-10), once per person, supplier and round;
        `value="comment"` adds a comment to the answer already given."""
        round_id, supplier_slug = self._pulse_ref(ref)
        adding_comment = value == "comment"
        score_value = None if adding_comment else inputs.parse_score(value)
        text = inputs.optional_text(comment, inputs.MAX_NOTE)
        try:
            with self.db.write() as session:
                person = self._person(session, actor)
                supplier = self._department_by_slug(session, supplier_slug)
                rater = (self._department(session, person.department_id)
                         if person.department_id is not None else None)
                if rater is None or not q.is_supplier(session=session, customer_id=self._id(
                        rater), supplier_id=self._id(supplier)):
                    raise Forbidden(N_("Only departments that %(supplier)s serves rate it in "
                                       "pulses."), supplier=supplier.name)
                key = f"pulse:{round_id}:{supplier.slug}:{person.id}"
                score = q.score_by_dedupe_key(session=session, dedupe_key=key)
                if adding_comment:
                    if score is None:
                        raise InvalidTransition(N_("Choose a score from 0 to 10 first."))
                    if text is None:
                        raise InvalidInput(N_("The comment is empty."))
                    score.comment = text
                elif score is not None:
                    raise InvalidTransition(
                        N_("You have already answered the %(round)s pulse about %(supplier)s."),
                        round=round_id, supplier=supplier.name)
                else:
                    assert score_value is not None
                    score = Score(kind="internal", source="pulse", value=score_value,
                                  at=self.clock(), comment=text, person_id=person.id,
                                  rater_department_id=rater.id, rated_department_id=supplier.id,
                                  pulse_round=round_id, dedupe_key=key)
                session.add(score)
                session.flush()
                return PulseView(f"{round_id}:{supplier.slug}", round_id,
                                 self._department_view(supplier), rater.name, score.value,
                                 score.comment)
        except IntegrityError:  # the same person answered twice at the same moment
            raise InvalidTransition(
                N_("You have already answered the %(round)s pulse about %(supplier)s."),
                round=round_id, supplier=supplier_slug) from None

    def _pulse_ref(self, ref: str) -> tuple[str, str]:
        """`2026-11:it` -> (round, supplier slug), refusing malformed and closed rounds."""
        round_id, _, slug = inputs.strip_controls(ref or "").partition(":")
        try:
            start, end = round_bounds(round_id, self.company.timezone)
        except ValueError:
            raise InvalidInput(N_("“%(value)s” is not a pulse."), value=ref[:40]) from None
        if not slug or not start <= self.clock() < end:
            raise InvalidTransition(N_("The %(round)s pulse is closed."), round=round_id)
        return round_id, slug

    # -- rules -----------------------------------------------------------------------------
    def check(self, actor: str, ref: str, action: str) -> SignalView:
        """Raise the refusal `action` would get on `ref` now, changing nothing.

        Adapters ask before collecting a note or a reason, so nobody types one in vain.
        `action` is a method name: acknowledge, resolve, reassign, change_department, reopen
        or rate.
        """
        with self.db.read() as session:
            person = q.person_by_identity(session=session, identity=actor)
            signal = self._signal(session, ref)
            if action in ("acknowledge", "resolve", "reassign"):
                self._require_head(session, person, signal)
                if action == "acknowledge" and signal.status == Status.ACKNOWLEDGED:
                    raise InvalidTransition(N_("%(ref)s is already acknowledged."),
                                            ref=format_ref(self._id(signal)))
                self._require_open(signal)
            elif action in ("change_department", "reopen", "rate"):
                self._require_reporter(person, signal)
                if action == "change_department":
                    self._require_reroutable(signal)
                if action == "reopen" and signal.status != Status.RESOLVED:
                    raise InvalidTransition(N_("%(ref)s is not resolved, so it cannot be "
                                               "reopened."), ref=format_ref(self._id(signal)))
            else:
                raise ValueError(f"unknown action {action!r}")
            return self._view(session, signal, viewer=person, history=False)

    def _for_head(self, session: Session, actor: str, ref: str) -> tuple[Person, Signal]:
        person = self._person(session, actor)
        signal = self._signal(session, ref, lock=True)
        self._require_head(session, person, signal)
        return person, signal

    def _require_head(self, session: Session, person: Person | None, signal: Signal) -> None:
        if person is None or (not person.is_admin and not q.is_head(
                session=session, person_id=self._id(person),
                department_id=signal.department_id)):
            department = self._department(session, signal.department_id)
            raise Forbidden(N_("Only the heads of %(department)s (or an admin) can act on "
                               "%(ref)s."), department=department.name,
                            ref=format_ref(self._id(signal)))

    def _for_reporter(self, session: Session, actor: str, ref: str) -> tuple[Person, Signal]:
        person = self._person(session, actor)
        signal = self._signal(session, ref, lock=True)
        self._require_reporter(person, signal)
        return person, signal

    def _require_reporter(self, person: Person | None, signal: Signal) -> None:
        if person is None or signal.reporter_id != person.id:
            raise Forbidden(N_("Only the person who reported %(ref)s can do that."),
                            ref=format_ref(self._id(signal)))

    def _require_reroutable(self, signal: Signal) -> None:
        if signal.status != Status.ROUTED or (signal.routing or {}).get("by") == "head":
            raise InvalidTransition(  # a head's decision is not the reporter's to undo
                N_("%(ref)s is already being handled; ask its department to reassign it."),
                ref=format_ref(self._id(signal)))

    def _require_open(self, signal: Signal) -> None:
        if signal.status == Status.RESOLVED:
            raise InvalidTransition(N_("%(ref)s is already resolved."),
                                    ref=format_ref(self._id(signal)))

    def _require_can_view(self, session: Session, person: Person | None,
                          department: Department) -> None:
        # Membership by the departments file only: a department chosen by the person themself
        # (Telegram /start) attributes their reports but opens no one's queue.
        allowed = person is not None and (
            person.is_admin or person.is_leadership
            or person.department_id == department.id
            or q.is_head(session=session, person_id=self._id(person),
                         department_id=self._id(department)))
        if not allowed:
            raise Forbidden(N_("Only members and heads of %(department)s can see its signals."),
                            department=department.name)

    # -- state changes ---------------------------------------------------------------------
    def _route(self, signal: Signal, department: Department) -> None:
        now = self.clock()
        signal.department_id = self._id(department)
        signal.status, signal.routed_at, signal.updated_at = Status.ROUTED, now, now
        signal.acknowledged_at = None
        signal.ack_due_at = self.company.business_hours.add(now, department.ack_sla_hours)
        signal.reminded_at = signal.escalated_at = None  # a new routing gets its own chasing

    def _move(self, session: Session, signal: Signal, person: Person, slug: str, action: str,
              details: dict[str, Any]) -> None:
        target = self._department_by_slug(session, slug)
        source = self._department(session, signal.department_id)
        if target.id == source.id:
            raise InvalidInput(N_("%(ref)s already belongs to %(department)s."),
                               ref=format_ref(self._id(signal)), department=source.name)
        source_card = self._card_key(signal, source, "")  # the card of the routing that ends
        self._route(signal, target)
        event = self._event(session, signal, person, action, {
            "from": source.slug, "from_name": source.name, "to": target.slug,
            "to_name": target.name, **details})
        # Each routing gets cards of its own, so a signal moved away and back never has two
        # routings editing one card.
        signal.routing = {"by": "reporter" if action == "rerouted" else "head",
                          "card": event.id}
        view = self._view(session, signal, viewer=None)
        company_t = self.translator()
        for destination in self._destinations(source):
            enqueue(session=session, now=self.clock(), messages=[NewMessage(
                dedupe_key=f"card-update:{event.id}@{destination}", destination=destination,
                operation="update", card_key=source_card + destination,
                payload={"message": render.moved_card(view, company_t).to_json()})])
        self._post_cards(session, signal, target, event.id)
        if action == "reassigned":
            self._note_reporter(session, signal, view, event)

    def _after_change(self, session: Session, signal: Signal, event: Any, *,
                      notify_reporter: bool) -> None:
        """Queue the card update (and the reporter's note) for a change just made."""
        department = self._department(session, signal.department_id)
        view = self._view(session, signal, viewer=None)
        message = render.card(view, self.translator())
        for destination in self._destinations(department):
            enqueue(session=session, now=self.clock(), messages=[NewMessage(
                dedupe_key=f"card-update:{event.id}@{destination}", destination=destination,
                operation="update", card_key=self._card_key(signal, department, destination),
                payload={"message": message.to_json()})])
        if notify_reporter:
            self._note_reporter(session, signal, view, event)

    def _post_cards(self, session: Session, signal: Signal, department: Department,
                    event_id: int | None) -> None:
        view = self._view(session, signal, viewer=None)
        message = render.card(view, self.translator())
        enqueue(session=session, now=self.clock(), messages=[
            NewMessage(dedupe_key=f"card:{event_id}@{destination}", destination=destination,
                       operation="send", card_key=self._card_key(signal, department, destination),
                       payload={"message": message.to_json()})
            for destination in self._destinations(department)])

    def _note_reporter(self, session: Session, signal: Signal, view: SignalView,
                       event: Any) -> None:
        if event.actor_id == signal.reporter_id:
            return  # nobody needs to be told about their own action
        reporter = session.get(Person, signal.reporter_id)
        assert reporter is not None
        t = self.translator(self._locale(reporter))
        note = render.reporter_note(view, self._event_view(view, event), t)
        enqueue(session=session, now=self.clock(), messages=[NewMessage(
            dedupe_key=f"note:{event.id}", destination=signal.reporter_identity,
            operation="send", payload={"message": note.to_json()})])

    def _to_department(self, session: Session, department: Department, key: str,
                       message: OutboundMessage) -> None:
        enqueue(session=session, now=self.clock(), messages=[
            NewMessage(dedupe_key=f"{key}@{destination}", destination=destination,
                       operation="send", payload={"message": message.to_json()})
            for destination in self._destinations(department)])

    def _event(self, session: Session, signal: Signal, actor: Person | None, action: str,
               details: dict[str, Any]) -> Any:
        session.add(signal)  # add_event's flush writes the signal's changes too
        event = q.add_event(session=session, signal_id=self._id(signal),
                            actor_id=actor.id if actor else None, action=action,
                            at=self.clock(), details=details)
        history = self._history_cache(session)
        if signal.id in history:
            history[self._id(signal)].append((event, actor.display_name if actor else None))
        return event

    @staticmethod
    def _history_cache(session: Session) -> dict[int, list[tuple[Any, str | None]]]:
        """Events per signal, loaded once per transaction; `_event` keeps it current."""
        cache: dict[int, list[tuple[Any, str | None]]] = session.info.setdefault(
            "voc_history", {})
        return cache

    # -- lookups ---------------------------------------------------------------------------
    @staticmethod
    def _require_identity(identity: str) -> None:
        if not is_valid_identity(identity):
            raise InvalidInput(N_("“%(value)s” is not a valid identity like slack:U0123 or "
                                  "telegram:42."), value=identity[:64])

    def _person(self, session: Session, identity: str, *, display_name: str | None = None
                ) -> Person:
        self._require_identity(identity)
        person = q.person_by_identity(session=session, identity=identity)
        if person is None:
            person = q.create_person(session=session, identity=identity, now=self.clock(),
                                     display_name=(display_name or identity)[:200])
        return person

    def _signal(self, session: Session, ref: str, *, lock: bool = False) -> Signal:
        signal_id = inputs.parse_ref(ref)
        signal = (q.lock_signal(session=session, signal_id=signal_id) if lock
                  else session.get(Signal, signal_id))
        if signal is None:
            raise NotFound(N_("There is no %(ref)s."), ref=format_ref(signal_id))
        return signal

    def _department(self, session: Session, department_id: int) -> Department:
        department = session.get(Department, department_id)
        assert department is not None, "signals always reference an existing department"
        return department

    def _department_by_slug(self, session: Session, slug: str) -> Department:
        typed = inputs.strip_controls(slug)
        # A slug with control characters in it is not one we know (and PostgreSQL refuses NUL).
        department = (q.department_by_slug(session=session, slug=typed.lower())
                      if typed == slug.strip() else None)
        if department is None:
            raise self._unknown_department(session, typed)
        return department

    def department_rows(self, connection: Connection, slugs: set[str]) -> dict[str, Any]:
        """Active departments by slug, for capture: read at most every
        `DEPARTMENTS_TTL` seconds (they change only when the departments file is synced),
        and again at once when a slug asked for is missing."""
        loaded_at, rows = self._departments
        if time.monotonic() - loaded_at > DEPARTMENTS_TTL or not slugs <= rows.keys():
            rows = q.active_department_rows(connection=connection)
            self._departments = (time.monotonic(), rows)
        return rows

    def _department_row_by_slug(self, session: Session, slug: str) -> Any:
        """`_department_by_slug` as a plain row, for capture."""
        typed = inputs.strip_controls(slug)
        department = (q.department_rows_by_slug(connection=session.connection(),
                                                slugs=[typed.lower()]).get(typed.lower())
                      if typed == slug.strip() else None)
        if department is None:
            raise self._unknown_department(session, typed)
        return department

    @staticmethod
    def _unknown_department(session: Session, typed: str) -> NotFound:
        known = ", ".join(d.slug for d in q.active_departments(session=session))
        return NotFound(N_("Unknown department “%(slug)s”. Known: %(known)s."),
                        slug=typed[:40], known=known)

    def _destinations(self, department: Department | Row[Any]) -> list[str]:
        destinations = []
        if department.slack_channel:
            destinations.append(f"slack:{department.slack_channel}")
        if department.telegram_chat is not None:
            topic = f"/{department.telegram_topic}" if department.telegram_topic else ""
            destinations.append(f"telegram:{department.telegram_chat}{topic}")
        return destinations

    @classmethod
    def _card_key(cls, signal: Signal, department: Department, destination: str) -> str:
        """The card of the signal's current routing in one destination."""
        routing_event = (signal.routing or {}).get("card", 0)
        return cls._card_key_of(signal.id, department.slug, routing_event, destination)

    @staticmethod
    def _card_key_of(signal_id: int | None, slug: str, routing_event: int,
                     destination: str) -> str:
        return f"card:{signal_id}:{slug}:{routing_event}@{destination}"

    @staticmethod
    def _department_id_of(person: Person) -> int | None:
        """The person's department: the file's, else the one they chose themselves."""
        return (person.department_id if person.department_id is not None
                else person.chosen_department_id)

    def _locale(self, person: Person) -> str:
        return person.locale or person.platform_locale or self.company.locale

    @staticmethod
    def _id(row: Signal | Person | Department) -> int:
        assert row.id is not None
        return row.id

    # -- views -----------------------------------------------------------------------------
    def _person_view(self, session: Session, person: Person) -> PersonView:
        person_id = self._id(person)
        own = self._department_id_of(person)
        department = self._department(session, own).slug if own is not None else None
        return PersonView(
            id=person_id, display_name=person.display_name,
            identities=tuple(q.identities_of(session=session, person_id=person_id)),
            locale=self._locale(person), department=department,
            heads=tuple(d.slug for d in q.headed_departments(session=session,
                                                             person_id=person_id)),
            is_leadership=person.is_leadership, is_admin=person.is_admin)

    def person(self, identity: str) -> PersonView | None:
        """The person behind an identity, if known (no side effects)."""
        with self.db.read() as session:
            person = q.person_by_identity(session=session, identity=identity)
            return self._person_view(session, person) if person else None

    @staticmethod
    def _department_view(department: Department | Row[Any]) -> DepartmentView:
        return DepartmentView(department.slug, department.name, department.description,
                              department.ack_sla_hours)

    def _view_for(self, session: Session, signal: Signal, identity: str) -> SignalView:
        return self._view(session, signal,
                          viewer=q.person_by_identity(session=session, identity=identity))

    def _view(self, session: Session, signal: Signal, *, viewer: Person | None,
              history: bool = True) -> SignalView:
        reveal = not signal.anonymous or (viewer is not None and viewer.id == signal.reporter_id)
        reporter = session.get(Person, signal.reporter_id)
        events: tuple[EventView, ...] = ()
        if history:
            cache = self._history_cache(session)
            if signal.id not in cache:
                cache[self._id(signal)] = q.events_of(session=session,
                                                      signal_id=self._id(signal))
            events = tuple(
                EventView(e.action, e.at,
                          None if (e.actor_id == signal.reporter_id and not reveal) else name,
                          dict(e.details))
                for e, name in cache[self._id(signal)])
        routing = signal.routing or {}
        return SignalView(
            id=self._id(signal), kind=Kind(signal.kind), status=Status(signal.status),
            text=signal.text,
            department=self._department_view(self._department(session, signal.department_id)),
            reporter=reporter.display_name if (reveal and reporter) else None,
            anonymous=signal.anonymous, created_at=signal.created_at,
            routed_at=signal.routed_at, ack_due_at=signal.ack_due_at,
            overdue=signal.status == Status.ROUTED and self.clock() > signal.ack_due_at,
            customer=signal.customer, score=signal.score, source_link=signal.source_link,
            acknowledged_at=signal.acknowledged_at, resolved_at=signal.resolved_at,
            routed_by_keywords=tuple(routing.get("matched", ())),
            routed_by_fallback=bool(routing.get("fallback")),
            rating=(q.handling_rating(session=session, signal_id=self._id(signal))
                    if signal.status == Status.RESOLVED else None),  # rated only once resolved
            history=events)

    @staticmethod
    def _event_view(view: SignalView, event: Any) -> EventView:
        """The view's copy of `event` (actor already hidden if the reporter is anonymous)."""
        return next((e for e in reversed(view.history) if e.action == event.action),
                    EventView(event.action, event.at, None, dict(event.details)))
