"""Capture, written in batches: the signals of many reporters in one transaction.

Every chat request waits on capture, so it is the one use case written set-wise: one query for
all reporters, the departments from a short-lived cache, one multi-row insert each for signals,
events, scores and outbox rows, then one commit, whether the batch holds one signal or sixty.
Concurrent requests are gathered into batches by `bot.core.capture.group_commit.GroupCommit`.

It works on plain rows and Core inserts (storage/queries.py) and builds each view from the
values it wrote, instead of ORM instances, flushes and a view read back: the same rows in about
half the time. Cards are built by the same `cards.new_cards` as every other routing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from bot.core.capture import evidence
from bot.core.customers.linking import AccountLink, link_accounts
from bot.core.handling.outgoing import new_cards
from bot.core.presentation import render
from bot.core.presentation.views import EventView, SignalView
from bot.core.presentation.visibility import department_view
from bot.core.routing import blend, training
from bot.core.shared import domain
from bot.core.shared.context import Core
from bot.core.shared.domain import Status
from bot.core.shared.errors import VocError
from bot.core.shared.rows import (
    department_by_slug,
    own_department_id,
    person_of,
    row_id,
    typed_slug,
    unknown_department,
)
from storage import files
from storage import queries as q
from storage.models import Department
from storage.outbox import NewMessage, enqueue

if TYPE_CHECKING:
    from bot.core.capture.reports import ParsedDraft

Route = tuple[Department, dict[str, Any]]  # where a draft goes, and why


@dataclass(frozen=True)
class _Reporter:
    """What capture needs of the reporter."""

    id: int
    display_name: str
    department_id: int | None  # their own: the file's, else the one they chose


def write_signals(core: Core, session: Session, drafts: Sequence[ParsedDraft]
                  ) -> list[SignalView | VocError]:
    """Store each draft with its captured and routed events, its score and its cards, in the
    caller's transaction; per draft, the reporter's view or why it was refused (an unknown
    department refuses that draft alone). A dedupe key stored before raises IntegrityError
    for the whole batch: the caller retries the drafts one by one. (Re-deliveries are rare, so
    no query looks for them first; on PostgreSQL the failed attempt leaves a gap in the
    references, as any rolled-back insert does.)"""
    reporters = _reporters(core, session, {d.actor for d in drafts})
    routes = _routes(core, session, drafts)
    storable = [(draft, reporters[draft.actor], route) for draft, route in
                zip(drafts, routes, strict=True) if not isinstance(route, VocError)]
    views = iter(_store(core, session, storable) if storable else [])
    return [route if isinstance(route, VocError) else next(views) for route in routes]


def _routes(core: Core, session: Session, drafts: Sequence[ParsedDraft]
            ) -> list[Route | VocError]:
    """Each draft's department and why: the reporter's choice, else the suggestion from the
    text; an unknown choice refuses that draft."""
    triage = core.company.triage
    if any(not d.department for d in drafts):
        training.refresh(core, session)
    suggestions = [None if d.department else blend.suggest(core, d.text) for d in drafts]
    wanted = {triage} | {
        slug for draft, suggestion in zip(drafts, suggestions, strict=True)
        if (slug := suggestion.slug if suggestion else typed_slug(draft.department or ""))}
    departments = core.active_departments(session, wanted)
    routes: list[Route | VocError] = []
    for draft, suggestion in zip(drafts, suggestions, strict=True):
        if suggestion is None:
            chosen = departments.get(typed_slug(draft.department or "") or "")
            routes.append((chosen, {"by": "reporter"}) if chosen is not None else
                          unknown_department(session, draft.department or ""))
            continue
        # The file may have changed under a running bot; the triage department still exists.
        department = (departments.get(suggestion.slug) or departments.get(triage)
                      or department_by_slug(session, triage))
        routing: dict[str, object] = {"by": "suggestion", "matched": list(suggestion.matched),
                                      "fallback": suggestion.is_fallback}
        if suggestion.similar:
            routing["similar"] = list(suggestion.similar)
        if suggestion.by_meaning:
            routing["meaning"] = True
        routes.append((department, routing))
    return routes


def _reporters(core: Core, session: Session, identities: set[str]) -> dict[str, _Reporter]:
    rows = q.reporters_by_identity(connection=session.connection(),
                                   identities=sorted(identities))
    reporters = {}
    for identity in sorted(identities):  # two batches create newcomers in one order: no deadlock
        row = rows.get(identity)
        if row is None:  # first contact: created race-safe, in a savepoint
            person = person_of(core, session, identity)
            reporters[identity] = _Reporter(row_id(person), person.display_name,
                                            own_department_id(person))
            continue
        own = row.department_id if row.department_id is not None else row.chosen_department_id
        reporters[identity] = _Reporter(row.id, row.display_name, own)
    return reporters


def _store(core: Core, session: Session,
           items: Sequence[tuple[ParsedDraft, _Reporter, Route]]) -> list[SignalView]:
    now = core.clock()
    due = [core.company.business_hours.add(now, department.ack_sla_hours)
           for _, _, (department, _) in items]
    connection = session.connection()
    signal_ids = q.insert_signals(connection=connection, rows=[dict(
        kind=draft.kind, status=Status.ROUTED, text=draft.text, customer=draft.customer,
        score=draft.score, source_link=draft.link, anonymous=draft.anonymous,
        reporter_id=reporter.id, reporter_identity=draft.actor,
        reporter_department_id=reporter.department_id, department_id=department.id,
        routing={**routing, "card": 0},  # 0: the first routing's cards
        dedupe_key=draft.dedupe_key, created_at=now, routed_at=now, ack_due_at=ack_due_at,
        updated_at=now)
        for (draft, reporter, (department, routing)), ack_due_at in zip(items, due, strict=True)])
    details = [({"kind": draft.kind.value},
                {"to": department.slug, "to_name": department.name, **routing})
               for draft, _, (department, routing) in items]
    event_ids = q.insert_events(connection=connection, rows=[
        row for signal_id, (_, reporter, _), (captured, routed) in
        zip(signal_ids, items, details, strict=True)
        for row in (dict(signal_id=signal_id, actor_id=reporter.id, action="captured", at=now,
                         details=captured),
                    dict(signal_id=signal_id, actor_id=None, action="routed", at=now,
                         details=routed))])
    q.insert_scores(connection=connection, rows=[dict(
        kind="customer", source="chat", value=draft.score, at=now, customer=draft.customer,
        comment=draft.text[:domain.MAX_NOTE], signal_id=signal_id, person_id=reporter.id,
        dedupe_key=f"signal:{signal_id}")
        for signal_id, (draft, reporter, _) in zip(signal_ids, items, strict=True)
        if draft.score is not None])
    links = link_accounts(session, [(signal_id, draft.customer) for signal_id, (draft, _, _)
                                    in zip(signal_ids, items, strict=True)],
                          actor=[draft.actor for draft, _, _ in items], now=now)
    kept = {index: files.attach(connection=connection, signal_id=signal_ids[index], now=now,
                                files=evidence.to_keep(draft.files, source=draft.dedupe_key,
                                                       album=draft.album,
                                                       anonymous=draft.anonymous))
            for index, (draft, _, _) in enumerate(items) if draft.files}
    views, cards = [], []
    for index, item in enumerate(items):
        view, messages = _written(core, item, now, signal_ids[index],
                                  event_ids[2 * index + 1], details[index], due[index],
                                  tuple(a.filename for a in kept.get(index, ())),
                                  links[index])
        views.append(view)
        cards += messages
        if index in kept:  # each file follows each card, as a reply to it
            cards += evidence.deliveries(view.ref, kept[index], [
                (m.destination, m.card_key) for m in messages if m.card_key])
    enqueue(session=session, now=core.clock(), messages=cards)
    return views


def _written(core: Core, item: tuple[ParsedDraft, _Reporter, Route], now: datetime,
             signal_id: int, routed_id: int, details: tuple[dict[str, Any], dict[str, Any]],
             due: datetime, attachments: tuple[str, ...], account: AccountLink
             ) -> tuple[SignalView, list[NewMessage]]:
    """The reporter's view of one stored draft (written at `now`), and its cards
    (`attachments`: the names its files are kept under; `account`: its customer's)."""
    draft, reporter, (department, routing) = item
    captured, routed = details
    # The department's card and the reporter's reply differ only in whether an anonymous
    # reporter is named (and in the clock reading for `overdue`): one view, then a copy.
    hidden = None if draft.anonymous else reporter.display_name
    card_view = SignalView(
        id=signal_id, kind=draft.kind, status=Status.ROUTED, text=draft.text,
        department=department_view(department), reporter=hidden,
        anonymous=draft.anonymous, created_at=now, routed_at=now, ack_due_at=due,
        overdue=core.clock() > due, customer=draft.customer, score=draft.score,
        source_link=draft.link, routed_by_keywords=tuple(routing.get("matched", ())),
        routed_by_similar=tuple(routing.get("similar", ())),
        routed_by_fallback=bool(routing.get("fallback")),
        routed_by_meaning=bool(routing.get("meaning")),
        history=(EventView("captured", now, hidden, dict(captured)),
                 EventView("routed", now, None, dict(routed))),
        attachments=attachments, account_id=account.account_id,
        customer_others=account.others)
    message = render.card(card_view, core.translator()).to_json()
    view = replace(card_view, reporter=reporter.display_name, overdue=core.clock() > due,
                   history=(EventView("captured", now, reporter.display_name, dict(captured)),
                            EventView("routed", now, None, dict(routed))),
                   customer_question=account.question)
    return view, new_cards(signal_id, department, 0, routed_id, message)
