"""Capture, written in batches: the signals of many reporters in one transaction.

Every chat request waits on capture, so it is the one use case written set-wise: one query for
all reporters, one for all departments, one multi-row insert each for signals, events, scores
and outbox rows, then one commit, whether the batch holds one signal or sixty. Concurrent
requests are gathered into batches by `bot.group_commit.GroupCommit` (group commit): under load
the commit and the per-statement costs are shared, and a lone request is written at once.

It works on plain rows and Core inserts (storage/queries.py) and builds each view from the
values it wrote, instead of ORM instances, flushes and a view read back: the same rows in about
half the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row
from sqlmodel import Session

from bot.core import inputs, render
from bot.core.errors import VocError
from bot.core.views import EventView, Kind, SignalView, Status
from storage import queries as q
from storage.outbox import NewMessage, enqueue

if TYPE_CHECKING:
    from bot.core.service import Draft, VocService


@dataclass(frozen=True)
class ParsedDraft:
    """A draft whose every field passed validation, with the reporter's identity."""

    actor: str
    kind: Kind
    text: str
    customer: str | None
    score: int | None
    link: str | None
    anonymous: bool
    department: str | None  # the slug the reporter chose, as typed; None: the suggestion
    dedupe_key: str | None


@dataclass(frozen=True)
class _Reporter:
    """What capture needs of the reporter."""

    id: int
    display_name: str
    department_id: int | None  # their own: the file's, else the one they chose


def parse_draft(service: VocService, actor: str, draft: Draft) -> ParsedDraft:
    """Validate a draft (InvalidInput names the first bad field); nothing is read or written."""
    service._require_identity(actor)
    return ParsedDraft(
        actor=actor, kind=inputs.parse_kind(draft.kind), text=inputs.signal_text(draft.text),
        customer=inputs.optional_text(draft.customer, inputs.MAX_CUSTOMER),
        score=None if draft.score in (None, "") else inputs.parse_score(draft.score),
        link=inputs.optional_text(draft.source_link, inputs.MAX_LINK),
        anonymous=draft.anonymous, department=draft.department,
        dedupe_key=inputs.strip_controls(draft.dedupe_key or "")[:200] or None)


def write_signals(service: VocService, session: Session, drafts: Sequence[ParsedDraft]
                  ) -> list[SignalView | VocError]:
    """Store each draft with its captured and routed events, its score and its cards, in the
    caller's transaction; per draft, the reporter's view or why it was refused (an unknown
    department refuses that draft alone). A dedupe key stored before raises IntegrityError
    for the whole batch: the caller retries the drafts one by one. (Re-deliveries are rare, so
    no query looks for them first; on PostgreSQL the failed attempt leaves a gap in the
    references, as any rolled-back insert does.)"""
    reporters = _reporters(service, session, {d.actor for d in drafts})
    routes = _routes(service, session, drafts)
    storable = [(draft, reporters[draft.actor], route) for draft, route in
                zip(drafts, routes, strict=True) if not isinstance(route, VocError)]
    views = iter(_store(service, session, storable) if storable else [])
    return [route if isinstance(route, VocError) else next(views) for route in routes]


def _routes(service: VocService, session: Session, drafts: Sequence[ParsedDraft]
            ) -> list[tuple[Row[Any], dict[str, Any]] | VocError]:
    """Each draft's department and why: the reporter's choice, else the suggestion from the
    text; an unknown choice refuses that draft."""
    triage = service.company.triage
    suggestions = [None if d.department else service.router.suggest(d.text) for d in drafts]
    wanted = {triage} | {
        slug for draft, suggestion in zip(drafts, suggestions, strict=True)
        if (slug := suggestion.slug if suggestion else _typed_slug(draft.department or ""))}
    departments = service.department_rows(session.connection(), wanted)
    routes: list[tuple[Row[Any], dict[str, Any]] | VocError] = []
    for draft, suggestion in zip(drafts, suggestions, strict=True):
        if suggestion is None:
            row = departments.get(_typed_slug(draft.department or "") or "")
            routes.append((row, {"by": "reporter"}) if row is not None else
                          service._unknown_department(
                              session, inputs.strip_controls(draft.department or "")))
            continue
        # The file may have changed under a running bot; the triage department still exists.
        row = (departments.get(suggestion.slug) or departments.get(triage)
               or service._department_row_by_slug(session, triage))
        routes.append((row, {"by": "suggestion", "matched": list(suggestion.matched),
                             "fallback": suggestion.is_fallback}))
    return routes


def _typed_slug(typed: str) -> str | None:
    """The slug to look up; None for one with control characters in it: not one we know (and
    PostgreSQL refuses NUL)."""
    clean = inputs.strip_controls(typed)
    return clean.lower() if clean == typed.strip() else None


def _reporters(service: VocService, session: Session, identities: set[str]
               ) -> dict[str, _Reporter]:
    rows = q.reporters_by_identity(connection=session.connection(),
                                   identities=sorted(identities))
    reporters = {}
    for identity in sorted(identities):  # two batches create newcomers in one order: no deadlock
        row = rows.get(identity)
        if row is None:  # first contact: created race-safe, in a savepoint
            person = service._person(session, identity)
            reporters[identity] = _Reporter(service._id(person), person.display_name,
                                            service._department_id_of(person))
            continue
        own = row.department_id if row.department_id is not None else row.chosen_department_id
        reporters[identity] = _Reporter(row.id, row.display_name, own)
    return reporters


def _store(service: VocService, session: Session,
           items: Sequence[tuple[ParsedDraft, _Reporter, tuple[Row[Any], dict[str, Any]]]]
           ) -> list[SignalView]:
    now = service.clock()
    hours = service.company.business_hours
    due = [hours.add(now, department.ack_sla_hours) for _, _, (department, _) in items]
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
        comment=draft.text[:inputs.MAX_NOTE], signal_id=signal_id, person_id=reporter.id,
        dedupe_key=f"signal:{signal_id}")
        for signal_id, (draft, reporter, _) in zip(signal_ids, items, strict=True)
        if draft.score is not None])
    t = service.translator()
    views, cards = [], []
    for index, (draft, reporter, (department, routing)) in enumerate(items):
        signal_id, routed_id, (captured, routed) = (
            signal_ids[index], event_ids[2 * index + 1], details[index])
        # The department's card and the reporter's reply differ only in whether an anonymous
        # reporter is named (and in the clock reading for `overdue`): one view, then a copy.
        hidden = None if draft.anonymous else reporter.display_name
        card_view = SignalView(
            id=signal_id, kind=draft.kind, status=Status.ROUTED, text=draft.text,
            department=service._department_view(department), reporter=hidden,
            anonymous=draft.anonymous, created_at=now, routed_at=now, ack_due_at=due[index],
            overdue=service.clock() > due[index], customer=draft.customer, score=draft.score,
            source_link=draft.link, routed_by_keywords=tuple(routing.get("matched", ())),
            routed_by_fallback=bool(routing.get("fallback")),
            history=(EventView("captured", now, hidden, dict(captured)),
                     EventView("routed", now, None, dict(routed))))
        message = render.card(card_view, t).to_json()
        cards += [NewMessage(dedupe_key=f"card:{routed_id}@{destination}",
                             destination=destination, operation="send",
                             card_key=service._card_key_of(signal_id, department.slug, 0,
                                                           destination),
                             payload={"message": message})
                  for destination in service._destinations(department)]
        views.append(replace(card_view, reporter=reporter.display_name,
                             overdue=service.clock() > due[index],
                             history=(EventView("captured", now, reporter.display_name,
                                                dict(captured)),
                                      EventView("routed", now, None, dict(routed)))))
    enqueue(session=session, now=service.clock(), messages=cards)
    return views
