"""Accounts as use cases: the account a customer text names (found, or made for a new
customer), a signal joined to it, two accounts merged, a name split off into an account of its
own. Every change is a line in the account's audit trail (who, what, when)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from rapidfuzz import fuzz, process
from sqlmodel import Session

from bot.core.customers.matching import Match, Verdict, best_match, compare
from bot.core.customers.names import CustomerName, blocks, customer_name
from bot.core.customers.problems import N_, CustomerProblem
from storage import accounts as store
from storage.db import Database
from storage.models import Account

MAX_NAME = 200  # letters in a customer's name or alias (Signal.customer holds as many)
CLOSEST = 20  # candidate names compared in full with a customer text


class AccountAction(StrEnum):
    """What happened to an account, in its audit trail."""

    CREATED = "created"
    UPDATED = "updated"  # an import changed its owner, segment or names
    MERGED = "merged"  # another account was merged into it
    MERGED_INTO = "merged_into"  # it was merged into another
    SPLIT = "split"  # one of its names left for an account of its own
    SPLIT_FROM = "split_from"  # it was made of a name split off another
    NAMED = "named"  # a reporter confirmed that a spelling names it


def find_account(session: Session, name: CustomerName) -> Match:
    """The account a customer text names: an equal name at once (one indexed lookup), else the
    best of the names that begin or end with the same sounds (two indexed lookups)."""
    if not name.key:
        return Match(Verdict.NEW, None, "", 0.0)
    exact = store.alias_by_key(session=session, key=name.key[:store.MAX_KEY])
    if exact is not None:
        return Match(Verdict.SAME, exact.account_id, exact.name, 1.0)
    head, tail = blocks(name)
    candidates = store.alias_candidates(session=session, head=head, tail=tail,
                                        length=len(name.key))
    # The closest keys by rapidfuzz's ratio (in C, on stored keys) get the full comparison.
    closest = process.extract(name.key, [row.key for row in candidates], scorer=fuzz.ratio,
                              limit=CLOSEST)
    return best_match(name, ((candidates[index].account_id,
                              customer_name(candidates[index].name))
                             for _, _, index in closest))


def add_name(session: Session, account_id: int, text: str, now: datetime) -> bool:
    """Give the account the name `text` unless its key is taken; whether it was added."""
    name = customer_name(text)
    key = name.key[:store.MAX_KEY]
    if not key or store.alias_by_key(session=session, key=key) is not None:
        return False
    head, tail = blocks(name)
    store.add_alias(session=session, account_id=account_id, key=key, name=text[:MAX_NAME],
                    head=head, tail=tail, now=now)
    return True


def assign_account(session: Session, signal_id: int, text: str, *, actor: str,
                   now: datetime) -> Match:
    """Join a signal to the account its customer text names: the account it surely names, or
    a new account for a new customer. When unsure (ASK) nothing changes: the reporter is asked,
    and `confirm_account` or `assign_new_account` follows their answer."""
    found = find_account(session, customer_name(text))
    if found.verdict is Verdict.ASK:
        return found
    if found.verdict is Verdict.NEW:
        if not customer_name(text).key:
            return found  # only a legal form: no customer named
        return assign_new_account(session, signal_id, text, actor=actor, now=now)
    assert found.account_id is not None
    # A spelling joined by similarity is not kept as a name: names chained that way would
    # drift from the customer, one slip at a time (a person's "yes" keeps one).
    store.set_account_id(session=session, signal_id=signal_id, account_id=found.account_id)
    return found


def confirm_account(session: Session, signal_id: int, account_id: int, text: str,
                    now: datetime) -> None:
    """The reporter said yes: `text` is a name of the account (asked about next time no more)."""
    add_name(session, account_id, text, now)
    store.set_account_id(session=session, signal_id=signal_id, account_id=account_id)


def assign_new_account(session: Session, signal_id: int, text: str, *, actor: str,
                       now: datetime) -> Match:
    """The customer is new: an account named `text`, and the signal joined to it."""
    account = store.create_account(session=session, name=text.strip()[:MAX_NAME],
                                   owner_identity=None, segment=None, now=now)
    add_name(session, id_of(account), text, now)
    store.record_event(session=session, account_id=id_of(account), action=AccountAction.CREATED,
                       actor=actor, details={"signal": signal_id}, now=now)
    store.set_account_id(session=session, signal_id=signal_id, account_id=id_of(account))
    return Match(Verdict.NEW, id_of(account), account.name, 1.0)


_ID = re.compile(r"#?(\d{1,12})")


def resolve(session: Session, reference: str) -> Account:
    """The account a person means: `#12` or `12` (its number), or one of its names."""
    text = reference.strip()
    if match := _ID.fullmatch(text):
        account = store.account_by_id(session=session, account_id=int(match.group(1)))
        if account is None:
            raise CustomerProblem(N_("There is no account #%(id)s."), id=match.group(1))
        if account.merged_into_id is not None:
            raise CustomerProblem(N_("Account #%(id)s was merged into %(into)s."),
                                  id=match.group(1), into=label(session, account.merged_into_id))
        return account
    key = customer_name(text).key[:store.MAX_KEY]
    alias = store.alias_by_key(session=session, key=key) if key else None
    if alias is None:
        raise CustomerProblem(N_("No account is called “%(name)s”."), name=text[:MAX_NAME])
    return live(session, alias.account_id)


@dataclass(frozen=True)
class MergeReport:
    """What a merge moved."""

    source: str  # "#3 Pied Piper"
    target: str
    names: int
    signals: int


def merge(db: Database, source_ref: str, target_ref: str, *, actor: str,
          now: datetime) -> MergeReport:
    """Merge the account `source_ref` into `target_ref`: its names and signals go there."""
    with db.write() as session:
        source, target = resolve(session, source_ref), resolve(session, target_ref)
        if source.id == target.id:
            raise CustomerProblem(N_("%(account)s and %(other)s are the same account."),
                                  account=label(session, id_of(source)), other=target_ref.strip())
        names, signals = store.merge_accounts(session=session, source_id=id_of(source),
                                              target_id=id_of(target))
        if target.owner_identity is None and source.owner_identity is not None:
            target.owner_identity = source.owner_identity
        if target.segment is None and source.segment is not None:
            target.segment = source.segment
        session.add(target)
        report = MergeReport(label(session, id_of(source)), label(session, id_of(target)), names,
                             signals)
        details = {"names": names, "signals": signals}
        store.record_event(session=session, account_id=id_of(source),
                           action=AccountAction.MERGED_INTO, actor=actor,
                           details={"into": id_of(target), **details}, now=now)
        store.record_event(session=session, account_id=id_of(target), action=AccountAction.MERGED,
                           actor=actor, details={"from": id_of(source), **details}, now=now)
        return report


@dataclass(frozen=True)
class SplitReport:
    """The account made by a split, and what it took."""

    source: str
    account: str
    signals: int


def split(db: Database, account_ref: str, text: str, *, actor: str, now: datetime) -> SplitReport:
    """Make the name `text` of an account an account of its own, with the signals written
    that way (or closer to it than to the account's other names)."""
    name = customer_name(text)
    key = name.key[:store.MAX_KEY]
    with db.write() as session:
        source = resolve(session, account_ref)
        alias = store.alias_by_key(session=session, key=key) if key else None
        if alias is not None and alias.account_id != source.id:
            raise CustomerProblem(N_("“%(name)s” is a name of another account, %(account)s."),
                                  name=text.strip(), account=label(session, alias.account_id))
        others = [customer_name(a.name) for a in store.aliases_of(session=session,
                                                                   account_id=id_of(source))
                  if a.key != key]
        if not others:
            raise CustomerProblem(N_("%(account)s has no other name: nothing to split it from."),
                                  account=label(session, id_of(source)))
        customers = [customer for customer in store.customers_of(session=session,
                                                                  account_id=id_of(source))
                     if _belongs_to(customer_name(customer), name, others)]
        if alias is None and not customers:
            raise CustomerProblem(N_("%(account)s has no name or report “%(name)s”."),
                                  account=label(session, id_of(source)), name=text.strip())
        created = store.create_account(session=session, name=(alias.name if alias else
                                                               text.strip()[:MAX_NAME]),
                                       owner_identity=None, segment=source.segment, now=now)
        if alias is not None:
            store.move_alias(session=session, key=key, to_account_id=id_of(created))
        else:
            add_name(session, id_of(created), text.strip(), now)
        moved = store.move_signals(session=session, from_account_id=id_of(source),
                                   to_account_id=id_of(created), customers=customers)
        store.record_event(session=session, account_id=id_of(source), action=AccountAction.SPLIT,
                           actor=actor, details={"name": created.name, "into": id_of(created),
                                                 "signals": moved}, now=now)
        store.record_event(session=session, account_id=id_of(created),
                           action=AccountAction.SPLIT_FROM, actor=actor,
                           details={"from": id_of(source), "signals": moved}, now=now)
        return SplitReport(label(session, id_of(source)), label(session, id_of(created)), moved)


def _belongs_to(customer: CustomerName, name: CustomerName, others: list[CustomerName]) -> bool:
    """Whether a report's customer is the split name rather than one of the others."""
    if customer.key == name.key:
        return True
    if compare(customer, name).verdict is not Verdict.SAME:
        return False
    return not any(compare(customer, other).verdict is Verdict.SAME for other in others)


def accounts(db: Database) -> list[store.AccountSummary]:
    """Every account not merged into another, by name."""
    with db.read() as session:
        return store.list_accounts(session=session)


def live(session: Session, account_id: int) -> Account:
    account = store.account_by_id(session=session, account_id=account_id)
    assert account is not None  # names and merges point at accounts (foreign keys)
    return account


def label(session: Session, account_id: int) -> str:
    account = store.account_by_id(session=session, account_id=account_id)
    return f"#{account_id} {account.name}" if account else f"#{account_id}"


def id_of(account: Account) -> int:
    assert account.id is not None  # flushed
    return account.id
