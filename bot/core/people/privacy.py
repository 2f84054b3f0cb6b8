"""Personal data on a schedule and on request: `voc retention`, `voc forget`.

Retention: cases closed more than `[company] retention_days` ago lose their texts, customer
names, links and notes; kinds, departments, statuses, dates and scores stay, so the NPS trend,
the counts and loop health of old weeks are what they were. Forget: one person's name and
accounts go, their reports become anonymous, the stored copies of messages name them no more,
and the cards that did are edited.

Each table that keeps personal data has an `Eraser` in `ERASERS`; a new table with texts or
names (attachments, questions and answers) adds its own eraser there and both commands cover it.
Both write an audit event (`admin_event`, and an `erased` event on each case they touched) in the
transaction that erases, and report what they did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Text, cast, func, update
from sqlmodel import Session, col, or_, select

from bot.core.customers.erasure import AccountNames
from bot.core.shared.context import Core
from bot.core.shared.identity import FORGOTTEN_IDENTITY, is_valid_identity
from storage import files, outbox, vectors
from storage.models import (
    AdminEvent,
    Attachment,
    DepartmentHead,
    Event,
    Identity,
    Outbox,
    Person,
    Score,
    Signal,
)

BATCH = 500  # cases per transaction: a first run over years of history holds no long lock
# Event details that hold what people typed (a resolution note, a reason); the rest (slugs,
# names of departments, scores) is kept.
TYPED_DETAILS = ("note", "reason", "text", "comment", "question", "answer")
FORGOTTEN_NAME = "Forgotten person"
FINAL = (outbox.SENT, outbox.DEAD, outbox.SUPERSEDED, outbox.SKIPPED)


@dataclass(frozen=True)
class Erasure:
    """What is being erased: cases (retention), or one person (forget)."""

    now: datetime
    signal_ids: Sequence[int] = ()  # the cases whose texts go
    person_id: int | None = None  # forget: the person
    identities: Sequence[str] = ()  # forget: their accounts
    person_name: str | None = None  # forget: the name copies of messages may hold
    before: datetime | None = None  # retention: what is older than this goes


class Eraser(Protocol):
    """Removes one table's personal data; returns how many rows it changed."""

    name: str

    def erase(self, session: Session, erasure: Erasure) -> int:
        """Erase what `erasure` names in this table (inside the caller's transaction)."""
        ...


class SignalTexts:
    """The case itself: text, customer, link; forget: the reporter's link to the case."""

    name = "signals"

    def erase(self, session: Session, erasure: Erasure) -> int:
        changed = 0
        if erasure.signal_ids:
            changed += _rows(session, update(Signal).where(
                col(Signal.id).in_(erasure.signal_ids)).values(
                text="", customer=None, source_link=None, erased_at=erasure.now))
        if erasure.identities:  # forget: anonymous from now on, their identity gone
            changed += _rows(session, update(Signal).where(
                col(Signal.reporter_identity).in_(erasure.identities)).values(
                anonymous=True, reporter_identity=FORGOTTEN_IDENTITY))
        return int(changed)


class EventNotes:
    """Notes and reasons typed into the audit trail of the cases."""

    name = "event notes"

    def erase(self, session: Session, erasure: Erasure) -> int:
        if not erasure.signal_ids:
            return 0
        changed = 0
        for event in session.exec(select(Event).where(
                col(Event.signal_id).in_(erasure.signal_ids))):
            kept = {k: v for k, v in event.details.items() if k not in TYPED_DETAILS}
            if kept != event.details:
                event.details = kept
                session.add(event)
                changed += 1
        return changed


class ScoreComments:
    """Customer names and comments beside scores: the cases' own, and imported NPS answers
    older than the period. The values stay (the NPS trend)."""

    name = "score comments"

    def erase(self, session: Session, erasure: Erasure) -> int:
        changed = 0
        personal = (col(Score.customer).is_not(None)) | (col(Score.comment).is_not(None))
        if erasure.signal_ids:
            changed += _rows(session, update(Score).where(
                col(Score.signal_id).in_(erasure.signal_ids), personal).values(
                customer=None, comment=None))
        if erasure.before is not None:
            changed += _rows(session, update(Score).where(
                col(Score.signal_id).is_(None), col(Score.at) < erasure.before, personal).values(
                customer=None, comment=None))
        return int(changed)


class OutboxPayloads:
    """Messages already delivered (or given up on) keep copies of texts: emptied once older than
    the period; forget: nothing more is sent to the person, and what was is emptied."""

    name = "delivered messages"

    def erase(self, session: Session, erasure: Erasure) -> int:
        changed = 0
        if erasure.before is not None:
            changed += _rows(session, update(Outbox).where(
                col(Outbox.status).in_(FINAL), col(Outbox.created_at) < erasure.before,
                col(Outbox.erased_at).is_(None)).values(
                payload={}, erased_at=erasure.now))
        if erasure.identities:
            to_them = col(Outbox.destination).in_(erasure.identities)
            changed += _rows(session, update(Outbox).where(
                to_them, col(Outbox.status) == outbox.PENDING).values(
                status=outbox.SKIPPED, last_error="the person was forgotten"))
            changed += _rows(session, update(Outbox).where(
                to_them, col(Outbox.status).in_(FINAL), col(Outbox.erased_at).is_(None)).values(
                payload={}, erased_at=erasure.now))
            # Where the messages went names the account (a DM's chat, its message ids).
            _rows(session, update(Outbox).where(to_them).values(
                destination=FORGOTTEN_IDENTITY, message_id=None))
        return int(changed)


class CopiesNamingThem:
    """Forget: messages to others that named the person (their cards, "… answered about")
    keep copies saying "Forgotten person" instead, and every posted card whose newest version
    named them is edited to say so."""

    name = "copies naming them"

    def erase(self, session: Session, erasure: Erasure) -> int:
        if not erasure.person_name:
            return 0
        named = erasure.person_name
        # JSON columns hold the text as json.dumps wrote it (non-ASCII escaped), or as is.
        forms = {named, json.dumps(named)[1:-1]}
        rows = session.exec(select(Outbox).where(or_(*(
            cast(col(Outbox.payload), Text).like(f"%{_like_escaped(form)}%", escape="\\")
            for form in forms))).order_by(col(Outbox.id))).all()
        naming: dict[str, Outbox] = {}
        for row in rows:
            row.payload = _renamed(row.payload, named, FORGOTTEN_NAME)
            session.add(row)
            if row.card_key and row.operation in ("send", "update"):
                naming[row.card_key] = row
        newest = dict(session.exec(select(Outbox.card_key, func.max(Outbox.id)).where(
            col(Outbox.card_key).in_(naming), col(Outbox.operation).in_(("send", "update")))
            .group_by(col(Outbox.card_key))).all()) if naming else {}
        outbox.enqueue(session=session, now=erasure.now, messages=[outbox.NewMessage(
            dedupe_key=f"forget:{erasure.person_id}:{key}", destination=row.destination,
            operation="update", card_key=key, payload=row.payload)
            for key, row in naming.items() if newest.get(key) == row.id])
        return len(rows)


class SourceKeys:
    """Forget: the platform ids their reports, files and scores were captured under (a
    private chat's id is the person's account)."""

    name = "source keys"

    def erase(self, session: Session, erasure: Erasure) -> int:
        if erasure.person_id is None:
            return 0
        theirs = select(Signal.id).where(col(Signal.reporter_id) == erasure.person_id)
        return (_rows(session, update(Attachment).where(
                    col(Attachment.signal_id).in_(theirs), col(Attachment.source_key).is_not(None))
                    .values(source_key=None))
                + _rows(session, update(Signal).where(
                    col(Signal.reporter_id) == erasure.person_id,
                    col(Signal.dedupe_key).is_not(None)).values(dedupe_key=None))
                + _rows(session, update(Score).where(
                    col(Score.person_id) == erasure.person_id,
                    col(Score.dedupe_key).is_not(None)).values(dedupe_key=None)))


class PersonRecord:
    """Forget: the name and the accounts; the row stays (as "Forgotten person") so the numbers
    that point at it (who acknowledged, who rated) still add up."""

    name = "people"

    def erase(self, session: Session, erasure: Erasure) -> int:
        if erasure.person_id is None:
            return 0
        person = session.get(Person, erasure.person_id)
        if person is None:
            return 0
        person.display_name = FORGOTTEN_NAME
        person.locale = person.platform_locale = None
        person.is_leadership = person.is_admin = False
        session.add(person)
        heads = session.exec(select(DepartmentHead).where(
            DepartmentHead.person_id == erasure.person_id)).all()
        for head in heads:
            session.delete(head)
        accounts = session.exec(select(Identity).where(
            Identity.person_id == erasure.person_id)).all()
        for account in accounts:
            session.delete(account)
        return 1 + len(heads) + len(accounts)


class Attachments:
    """The files reported with the cases (photos of a customer's order, screenshots): they go
    with the texts; a content another case still links to stays for that case."""

    name = "attachments"

    def erase(self, session: Session, erasure: Erasure) -> int:
        return sum(files.delete_attachments(session=session, signal_id=signal_id)
                   for signal_id in erasure.signal_ids)


class MeaningVectors:
    """The language layer's vectors of the cases: what a text meant goes with the text."""

    name = "vectors"

    def erase(self, session: Session, erasure: Erasure) -> int:
        return vectors.erase(session=session, signal_ids=erasure.signal_ids)


ERASERS: list[Eraser] = [SignalTexts(), EventNotes(), ScoreComments(), CopiesNamingThem(),
                         OutboxPayloads(), Attachments(), SourceKeys(), PersonRecord(),
                         MeaningVectors(),
                         AccountNames()]  # after SignalTexts: it reads which cases keep texts


@dataclass
class ErasureReport:
    """What a run did (or, dry, would do)."""

    action: str
    dry_run: bool = False
    cases: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def add(self, counts: dict[str, int]) -> None:
        for name, count in counts.items():
            self.rows[name] = self.rows.get(name, 0) + count

    def summary(self) -> str:
        """One paragraph for the operator (English: an operator's command)."""
        if self.note:
            return self.note
        verb = "would erase" if self.dry_run else "erased"
        done = ", ".join(f"{name}: {count}" for name, count in self.rows.items() if count)
        return f"{self.action}: {verb} the personal data of {self.cases} case(s)" + (
            f" ({done})" if done else "")


def _rows(session: Session, statement: Any) -> int:
    """Run an UPDATE; how many rows it changed."""
    result = session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _renamed(value: Any, old: str, new: str) -> Any:
    """`value` (JSON: dicts, lists, strings) with every `old` in its strings made `new`."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_renamed(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _renamed(item, old, new) for key, item in value.items()}
    return value


def _erase(session: Session, erasure: Erasure) -> dict[str, int]:
    return {eraser.name: eraser.erase(session, erasure) for eraser in ERASERS}


def _audit(session: Session, core: Core, signal_ids: Sequence[int], *, action: str,
           actor: str, details: dict[str, Any]) -> None:
    session.add(AdminEvent(at=core.clock(), action=action, actor=actor[:120], details=details))
    for signal_id in signal_ids:
        session.add(Event(signal_id=signal_id, actor_id=None, action="erased", at=core.clock(),
                          details={"by": action}))


def retention(core: Core, *, actor: str, dry_run: bool = False,
              days: int | None = None) -> ErasureReport:
    """Erase the texts and names of cases closed more than `days` (default: the company's
    `retention_days`) ago, in batches; dry: only count them."""
    days = core.company.retention_days if days is None else days
    report = ErasureReport("retention", dry_run=dry_run)
    if days is None:
        report.note = ("retention: [company] retention_days is not set in the departments file; "
                       "nothing is removed")
        return report
    now = core.clock()
    before = now - timedelta(days=days)
    due = (col(Signal.status) == "resolved", col(Signal.resolved_at) < before,
           col(Signal.erased_at).is_(None))
    if dry_run:
        with core.db.read() as session:
            report.cases = len(session.exec(select(Signal.id).where(*due)).all())
        return report
    first = True
    while True:
        with core.db.write() as session:
            ids = [i for i in session.exec(select(Signal.id).where(*due).order_by(
                col(Signal.id)).limit(BATCH)).all() if i is not None]
            if not ids and not first:
                break
            counts = _erase(session, Erasure(now=now, signal_ids=ids, before=before))
            report.cases += len(ids)
            report.add(counts)
            _audit(session, core, ids, action="retention", actor=actor,
                   details={"days": days, "closed_before": before.isoformat(),
                            "cases": len(ids), **counts})
        first = False
        if len(ids) < BATCH:
            break
    return report


def forget(core: Core, identity: str, *, actor: str) -> ErasureReport:
    """Erase one person's name and accounts; their reports become anonymous."""
    report = ErasureReport("forget")
    if not is_valid_identity(identity):
        report.note = (f"forget: {identity!r} is not an identity like slack:U0123 or "
                       "telegram:42; nothing was changed")
        return report
    with core.db.write() as session:
        account = session.get(Identity, identity)
        if account is None:
            report.note = f"forget: nobody has the account {identity}; nothing was changed"
            return report
        person_id = account.person_id
        person = session.get(Person, person_id)
        identities = list(session.exec(select(Identity.identity).where(
            Identity.person_id == person_id)).all())
        ids = [i for i in session.exec(select(Signal.id).where(
            col(Signal.reporter_id) == person_id)).all() if i is not None]
        counts = _erase(session, Erasure(now=core.clock(), person_id=person_id,
                                         identities=identities,
                                         person_name=person.display_name if person else None))
        report.cases = len(ids)
        report.add(counts)
        _audit(session, core, ids, action="forget", actor=actor,
               details={"person_id": person_id, "accounts": len(identities), **counts})
    listed = sorted(set(identities) & core.company.listed_identities())
    report.note = (f"forget: person #{person_id} is now {FORGOTTEN_NAME!r}: {len(identities)} "
                   f"account(s) removed, {len(ids)} report(s) made anonymous")
    if listed:
        report.note += (f". The departments file still lists {', '.join(listed)}: remove them "
                        "there, or the next sync brings the account back")
    return report


