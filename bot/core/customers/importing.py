"""A customer list imported: `name,aliases,owner,segment` rows (aliases separated by `;`,
the owner an identity of a person in the departments file), each good row an account created
or updated, each bad one reported by its row number with why; nothing of a good row is lost."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.customers.accounts import MAX_NAME, AccountAction, add_name, id_of, label, live
from bot.core.customers.names import customer_name
from bot.core.customers.problems import N_, CustomerProblem
from storage import accounts as store
from storage.db import Database

MAX_SEGMENT = 100


@dataclass(frozen=True)
class CustomerRow:
    """One good row of a customer list."""

    number: int  # as a spreadsheet shows it (the header is row 1)
    name: str
    aliases: tuple[str, ...]
    owner: str | None
    segment: str | None


@dataclass
class ImportReport:
    """Accounts created and updated, rows that were already so, and bad rows by number."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, CustomerProblem]] = field(default_factory=list)


def parse_rows(rows: Iterable[tuple[int, Mapping[str, str | None]]], people: set[str],
               report: ImportReport) -> list[CustomerRow]:
    """The good rows of a customer list (`name,aliases,owner,segment`, aliases separated by
    `;`); each bad one goes to `report.errors` with its number and why."""
    good = []
    for number, raw in rows:
        try:
            good.append(_parse_row(number, raw, people))
        except CustomerProblem as problem:
            report.errors.append((number, problem))
    return good


def _parse_row(number: int, raw: Mapping[str, str | None], people: set[str]) -> CustomerRow:
    name = _clean(raw.get("name"))
    if not name:
        raise CustomerProblem(N_("the name is missing"))
    aliases = tuple(dict.fromkeys(a for a in map(_clean, (raw.get("aliases") or "").split(";"))
                                  if a))
    for text in (name, *aliases):
        if len(text) > MAX_NAME:
            raise CustomerProblem(N_("“%(name)s…” is %(length)d characters long; the limit is "
                                     "%(limit)d"), name=text[:40], length=len(text),
                                  limit=MAX_NAME)
        if not customer_name(text).key:
            raise CustomerProblem(N_("“%(name)s” is a legal form, not a name"), name=text)
    owner = _clean(raw.get("owner")) or None
    if owner is not None and owner not in people:
        raise CustomerProblem(N_("the owner “%(owner)s” is not a person in the departments "
                                 "file (write an identity listed there, like slack:U0KAM or "
                                 "telegram:1001)"), owner=owner[:64])
    segment = _clean(raw.get("segment")) or None
    if segment is not None and len(segment) > MAX_SEGMENT:
        raise CustomerProblem(N_("the segment is %(length)d characters long; the limit is "
                                 "%(limit)d"), length=len(segment), limit=MAX_SEGMENT)
    return CustomerRow(number, name, aliases, owner, segment)


def _clean(value: str | None) -> str:
    """One line of text: control characters dropped, spaces collapsed."""
    text = "".join(" " if not char.isprintable() else char for char in value or "")
    return " ".join(text.split())


def import_customers(db: Database, rows: Iterable[CustomerRow], report: ImportReport, *,
                     actor: str, now: datetime) -> ImportReport:
    """Create or update an account for each row, in one transaction: a row whose names are
    already an account's updates that account (importing a file twice changes nothing)."""
    with db.write() as session:
        for row in rows:
            try:
                _import_row(session, row, report, actor=actor, now=now)
            except CustomerProblem as problem:
                report.errors.append((row.number, problem))
    report.errors.sort(key=lambda error: error[0])
    return report


def _import_row(session: Session, row: CustomerRow, report: ImportReport, *, actor: str,
                now: datetime) -> None:
    keys = list(dict.fromkeys(customer_name(text).key[:store.MAX_KEY]
                              for text in (row.name, *row.aliases)))
    owners = {alias.account_id for alias in store.aliases_by_keys(session=session, keys=keys)}
    if len(owners) > 1:
        first, second = (label(session, account_id) for account_id in sorted(owners)[:2])
        raise CustomerProblem(N_("its names already belong to two accounts, %(first)s and "
                                 "%(second)s: merge them first"), first=first, second=second)
    details: dict[str, Any] = {"row": row.number}
    if owners:
        account = live(session, owners.pop())
        if row.owner is not None and row.owner != account.owner_identity:
            account.owner_identity = details["owner"] = row.owner
        if row.segment is not None and row.segment != account.segment:
            account.segment = details["segment"] = row.segment
        session.add(account)
        action = AccountAction.UPDATED
    else:
        account = store.create_account(session=session, name=row.name, owner_identity=row.owner,
                                       segment=row.segment, now=now)
        details.update(name=row.name, owner=row.owner, segment=row.segment)
        action = AccountAction.CREATED
    added = [text for text in (row.name, *row.aliases)
             if add_name(session, id_of(account), text, now)]
    if added:
        details["names"] = added
    if action is AccountAction.UPDATED and len(details) == 1:
        report.unchanged += 1
        return
    if action is AccountAction.CREATED:
        report.created += 1
    else:
        report.updated += 1
    store.record_event(session=session, account_id=id_of(account), action=action, actor=actor,
                       details=details, now=now)
