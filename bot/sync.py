"""Write the departments file to the database: idempotent; removed departments are archived.

Replicas starting together and concurrent `voc departments sync` runs write one after another:
on PostgreSQL the transaction first takes an advisory lock (on SQLite, BEGIN IMMEDIATE already
serialises writers), so each run reads what the previous one committed instead of inserting
the same departments and people again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from bot.core.shared.company import Company
from storage import queries as q
from storage.db import Database
from storage.models import Department, DepartmentHead, DepartmentSupplier, Identity, Person

# pg_advisory_xact_lock keys of the sync: a constant the rest of the bot does not use, and the
# schema (advisory locks are database-wide: installs in other schemas must not wait for ours).
SYNC_LOCK_KEY = 0x766F_6373  # "vocs"
_ATTEMPTS = 3


@dataclass
class SyncReport:
    """What a sync changed (all empty on a second run of the same file)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    people_added: int = 0
    people_linked: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.added or self.updated or self.archived or self.restored
                    or self.people_added or self.people_linked)

    def summary(self) -> str:
        """One line for the CLI."""
        if not self.changed:
            return "departments: up to date, nothing changed"
        parts = [f"{label}: {', '.join(items)}" for label, items in (
            ("added", self.added), ("updated", self.updated), ("archived", self.archived),
            ("restored", self.restored)) if items]
        if self.people_added:
            parts.append(f"people added: {self.people_added}")
        if self.people_linked:
            parts.append(f"accounts linked to a named person: {self.people_linked}")
        return "departments: " + "; ".join(parts)


def sync_company(db: Database, company: Company, *, now: datetime) -> SyncReport:
    """Make the database match the file, in one transaction."""
    for _ in range(_ATTEMPTS - 1):
        try:
            return _sync_once(db, company, now)
        except IntegrityError:
            # Someone outside the sync (a first-contact capture) created one of the people the
            # file names at the same moment: the rolled-back run starts again and finds them.
            continue
    return _sync_once(db, company, now)


def _sync_once(db: Database, company: Company, now: datetime) -> SyncReport:
    report = SyncReport()
    with db.write() as session:
        if db.dialect == "postgresql":  # released when the transaction ends
            session.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                            {"key": SYNC_LOCK_KEY})
        by_slug = _sync_departments(session, company, report, now)
        _sync_people(session, company, by_slug, report, now)
    return report


def _sync_departments(session: Session, company: Company, report: SyncReport,
                      now: datetime) -> dict[str, Department]:
    existing = {d.slug: d for d in session.exec(select(Department))}
    by_slug: dict[str, Department] = {}
    for spec in company.departments:
        values = {"name": spec.name, "description": spec.description,
                  "keywords": list(spec.keywords),
                  "addresses": {name: dict(address) for name, address in spec.addresses.items()},
                  "ack_sla_hours": spec.ack_sla_hours}
        department = existing.get(spec.slug)
        if department is None:
            department = Department(slug=spec.slug, name=spec.name)
            department.sqlmodel_update(values)
            report.added.append(spec.slug)
        else:
            if any(getattr(department, k) != v for k, v in values.items()):
                report.updated.append(spec.slug)
            if department.archived_at is not None:
                report.restored.append(spec.slug)
            department.sqlmodel_update(values | {"archived_at": None})
        session.add(department)
        by_slug[spec.slug] = department
    for slug, department in existing.items():
        if slug not in by_slug and department.archived_at is None:
            department.archived_at = now  # kept: its signals and scores still point at it
            session.add(department)
            report.archived.append(slug)
    session.flush()

    wanted = {(by_slug[d.slug].id, by_slug[s].id) for d in company.departments
              for s in d.suppliers}
    current = {(r.customer_id, r.supplier_id) for r in session.exec(select(DepartmentSupplier))}
    if wanted != current:
        report.updated.append("suppliers")
        session.execute(delete(DepartmentSupplier))
        session.add_all(DepartmentSupplier(customer_id=c, supplier_id=s) for c, s in wanted
                        if c is not None and s is not None)
    return by_slug


def _sync_people(session: Session, company: Company, by_slug: dict[str, Department],
                 report: SyncReport, now: datetime) -> None:
    people: dict[str, Person] = {}  # identity -> person, for everyone the file names

    def person_for(identity: str, name: str | None = None, locale: str | None = None) -> Person:
        person = people.get(identity) or q.person_by_identity(session=session,
                                                              identity=identity)
        if person is None:
            person = q.create_person(session=session, identity=identity, now=now,
                                     display_name=name or identity)
            report.people_added += 1
        if name and person.display_name != name:
            person.display_name = name
        if locale and person.locale != locale:
            person.locale = locale
        people[identity] = person
        return person

    for named in company.people:
        person = person_for(named.identities[0], named.name, named.locale)
        assert person.id is not None
        for identity in named.identities[1:]:
            if session.get(Identity, identity) is None:
                session.add(Identity(identity=identity, person_id=person.id))
            elif q.move_identity(session=session, identity=identity, to_person_id=person.id):
                report.people_linked += 1  # the file says these accounts are one person
            people[identity] = person
    session.flush()

    department_of: dict[int, int] = {}
    heads: set[tuple[int, int]] = set()
    for spec in company.departments:
        department_id = by_slug[spec.slug].id
        assert department_id is not None
        for identity in spec.members:
            person = person_for(identity)
            assert person.id is not None
            department_of[person.id] = department_id
        for identity in spec.heads:
            person = person_for(identity)
            assert person.id is not None
            heads.add((department_id, person.id))
            department_of.setdefault(person.id, department_id)
    leadership = {p.id for p in (person_for(i) for i in company.leadership)}
    admins = {p.id for p in (person_for(i) for i in company.admins)}

    for person in session.exec(select(Person)):
        assert person.id is not None
        # Membership comes only from the file: someone it no longer names has no department.
        values = {"department_id": department_of.get(person.id),
                  "is_leadership": person.id in leadership, "is_admin": person.id in admins}
        if any(getattr(person, k) != v for k, v in values.items()):
            person.sqlmodel_update(values)
            session.add(person)
    current_heads = {(h.department_id, h.person_id) for h in session.exec(select(DepartmentHead))}
    for department_id, person_id in current_heads - heads:
        session.execute(delete(DepartmentHead).where(
            col(DepartmentHead.department_id) == department_id,
            col(DepartmentHead.person_id) == person_id))
    session.add_all(DepartmentHead(department_id=d, person_id=p) for d, p in heads - current_heads)
    if heads != current_heads:
        report.updated.append("heads")
