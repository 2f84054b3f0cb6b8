"""Customer accounts, their names and their audit trail. Keyword-only data functions that
never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.models import (
    MAX_ALIAS_KEY,
    Account,
    AccountAlias,
    AccountEvent,
    Event,
    Person,
    Score,
    Signal,
)

MAX_KEY = MAX_ALIAS_KEY  # a key longer than this is cut (two such names compare equal)
MAX_CANDIDATES = 200  # names compared with one customer text at most


@dataclass(frozen=True)
class AliasRow:
    """One name of an account, as candidates for a customer text come back."""

    key: str
    account_id: int
    name: str


@dataclass(frozen=True)
class AccountSummary:
    """An account with how many names and signals it has, for lists."""

    account: Account
    aliases: tuple[str, ...]
    signals: int


_ALIASES = AccountAlias.__table__.c  # type: ignore[attr-defined]
_SIGNAL_TABLE = Signal.__table__  # type: ignore[attr-defined]
_SIGNALS = _SIGNAL_TABLE.c
# Capture's statements, built once, run on the connection: no ORM objects on its hot path.
_ALIAS_BY_KEY = sa_select(_ALIASES.key, _ALIASES.account_id, _ALIASES.name).where(
    _ALIASES.key == bindparam("key"))
_RECENT_COUNT = sa_select(func.count()).select_from(_SIGNAL_TABLE).where(
    _SIGNALS.account_id == bindparam("account_id"), _SIGNALS.created_at >= bindparam("since"),
    _SIGNALS.id != bindparam("besides"))
_SIGNAL_COUNT = sa_select(func.count()).select_from(_SIGNAL_TABLE).where(
    _SIGNALS.account_id == bindparam("account_id"))


def alias_by_key(*, session: Session, key: str) -> AliasRow | None:
    """The name with exactly this key (primary key lookup)."""
    row = session.connection().execute(_ALIAS_BY_KEY, {"key": key}).first()
    return AliasRow(row[0], int(row[1]), row[2]) if row is not None else None


def aliases_by_keys(*, session: Session, keys: Sequence[str]) -> list[AccountAlias]:
    """The names among `keys` that some account has."""
    if not keys:
        return []
    return list(session.exec(select(AccountAlias).where(col(AccountAlias.key).in_(keys))))


def alias_candidates(*, session: Session, head: str, tail: str, length: int,
                     limit: int = MAX_CANDIDATES) -> list[AliasRow]:
    """Names that begin or end with the same sounds (both columns indexed), those that do both
    first, then those whose key is nearest `length` long: the likeliest first when a common
    beginning holds more names than `limit`."""
    both = case((and_(col(AccountAlias.head) == head, col(AccountAlias.tail) == tail), 0),
                else_=1)
    rows = session.exec(
        select(AccountAlias.key, AccountAlias.account_id, AccountAlias.name)
        .where(or_(col(AccountAlias.head) == head, col(AccountAlias.tail) == tail))
        .order_by(both, func.abs(func.length(AccountAlias.key) - length), col(AccountAlias.key))
        .limit(limit))
    return [AliasRow(key, account_id, name) for key, account_id, name in rows]


def create_account(*, session: Session, name: str, owner_identity: str | None,
                   segment: str | None, now: datetime) -> Account:
    """A new account (flushed: it has its id)."""
    account = Account(name=name, owner_identity=owner_identity, segment=segment, created_at=now)
    session.add(account)
    session.flush()
    return account


def add_alias(*, session: Session, account_id: int, key: str, name: str, head: str, tail: str,
              now: datetime) -> AccountAlias:
    """Give an account one more name (the key must be free: see alias_by_key)."""
    alias = AccountAlias(key=key, account_id=account_id, name=name, head=head, tail=tail,
                         created_at=now)
    session.add(alias)
    session.flush()
    return alias


def account_by_id(*, session: Session, account_id: int) -> Account | None:
    """The account, merged or not."""
    return session.get(Account, account_id)


def aliases_of(*, session: Session, account_id: int) -> list[AccountAlias]:
    """An account's names, oldest first."""
    return list(session.exec(select(AccountAlias).where(AccountAlias.account_id == account_id)
                             .order_by(col(AccountAlias.created_at), col(AccountAlias.key))))


def merge_accounts(*, session: Session, source_id: int, target_id: int) -> tuple[int, int]:
    """Move the source's names and signals to the target and mark the source merged into it;
    (names moved, signals moved)."""
    aliases = session.execute(update(AccountAlias).where(col(AccountAlias.account_id) == source_id)
                              .values(account_id=target_id))
    signals = session.execute(update(Signal).where(col(Signal.account_id) == source_id)
                              .values(account_id=target_id))
    session.execute(update(Account).where(col(Account.id) == source_id)
                    .values(merged_into_id=target_id))
    session.execute(update(Account).where(col(Account.merged_into_id) == source_id)
                    .values(merged_into_id=target_id))  # earlier merges follow it
    return _rowcount(aliases), _rowcount(signals)


def customers_of(*, session: Session, account_id: int) -> list[str]:
    """The distinct customer texts of an account's signals."""
    return [text for text in session.exec(
        select(Signal.customer).where(col(Signal.account_id) == account_id).distinct())
        if text is not None]


def move_signals(*, session: Session, from_account_id: int, to_account_id: int,
                 customers: Sequence[str]) -> int:
    """Move the account's signals whose customer text is one of `customers`; how many."""
    if not customers:
        return 0
    moved = session.execute(update(Signal).where(col(Signal.account_id) == from_account_id,
                                                 col(Signal.customer).in_(customers))
                            .values(account_id=to_account_id))
    return _rowcount(moved)


def move_alias(*, session: Session, key: str, to_account_id: int) -> None:
    """Give a name to another account."""
    session.execute(update(AccountAlias).where(col(AccountAlias.key) == key)
                    .values(account_id=to_account_id))


def set_account_id(*, session: Session, signal_id: int, account_id: int | None) -> None:
    """Which account a signal's customer is."""
    session.connection().execute(update(_SIGNAL_TABLE).where(_SIGNALS.id == signal_id)
                                 .values(account_id=account_id))


def record_event(*, session: Session, account_id: int, action: str, actor: str,
                 details: dict[str, Any], now: datetime) -> int:
    """One line of an account's audit trail (flushed: its id)."""
    event = AccountEvent(account_id=account_id, action=action, actor=actor[:120],
                         details=details, at=now)
    session.add(event)
    session.flush()
    assert event.id is not None
    return event.id


def events_of(*, session: Session, account_id: int) -> list[AccountEvent]:
    """An account's audit trail, oldest first."""
    return list(session.exec(select(AccountEvent).where(AccountEvent.account_id == account_id)
                             .order_by(col(AccountEvent.at), col(AccountEvent.id))))


def list_accounts(*, session: Session) -> list[AccountSummary]:
    """The accounts not merged into another, by name, with their names and signal counts."""
    accounts = list(session.exec(select(Account).where(col(Account.merged_into_id).is_(None))
                                 .order_by(col(Account.name), col(Account.id))))
    names: dict[int, list[str]] = {}
    for alias in session.exec(select(AccountAlias).order_by(col(AccountAlias.created_at),
                                                             col(AccountAlias.key))):
        names.setdefault(alias.account_id, []).append(alias.name)
    counts = dict(session.exec(select(Signal.account_id, func.count())
                               .where(col(Signal.account_id).is_not(None))
                               .group_by(col(Signal.account_id))).all())
    return [AccountSummary(account, tuple(names.get(account.id or 0, ())),
                           counts.get(account.id, 0)) for account in accounts]


def signal_count(*, session: Session, account_id: int) -> int:
    """How many signals name the account (the index on (account_id, created_at) counts them)."""
    return int(session.connection().execute(_SIGNAL_COUNT, {"account_id": account_id}
                                            ).scalar_one())


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def recent_count(*, session: Session, account_id: int, since: datetime, besides: int) -> int:
    """How many signals but `besides` name the account since `since` (its (account_id,
    created_at) index)."""
    return int(session.connection().execute(_RECENT_COUNT, {
        "account_id": account_id, "since": since, "besides": besides}).scalar_one())


def newest_signals(*, session: Session, account_id: int, limit: int) -> list[Signal]:
    """The account's newest signals (its (account_id, created_at) index, backwards)."""
    return list(session.exec(select(Signal).where(col(Signal.account_id) == account_id)
                             .order_by(col(Signal.created_at).desc(), col(Signal.id).desc())
                             .limit(limit)))


def open_signals(*, session: Session, account_id: int, statuses: Sequence[str], limit: int
                 ) -> list[Signal]:
    """The account's open cases (not merged into another), the longest due first."""
    return list(session.exec(select(Signal).where(
        col(Signal.account_id) == account_id, col(Signal.status).in_(statuses),
        col(Signal.merged_into_id).is_(None)).order_by(col(Signal.ack_due_at), col(Signal.id))
        .limit(limit)))


def counts_by_department(*, session: Session, account_id: int) -> list[tuple[int, int]]:
    """(department id, signals) of the account, most first (from its index alone)."""
    rows = session.exec(select(Signal.department_id, func.count())
                        .where(col(Signal.account_id) == account_id)
                        .group_by(col(Signal.department_id))
                        .order_by(func.count().desc(), col(Signal.department_id)))
    return [(int(department), int(count)) for department, count in rows]


def account_score_values(*, session: Session, account_id: int, names: Sequence[str]
                         ) -> list[tuple[int, datetime]]:
    """The account's customer NPS answers (value, when): those given with its signals, and
    those recorded on their own (`voc import-scores`, /score) under one of its names."""
    of_signals = select(Signal.id).where(col(Signal.account_id) == account_id)
    mine: ColumnElement[bool] = col(Score.signal_id).in_(of_signals)
    if names:
        mine = or_(mine, and_(col(Score.signal_id).is_(None), col(Score.customer).in_(names)))
    rows = session.exec(select(Score.value, Score.at).where(Score.kind == "customer", mine))
    return [(int(value), at) for value, at in rows]


def acknowledgers(*, session: Session, signal_ids: Sequence[int]) -> dict[int, str]:
    """Who acknowledged each of these signals last (display name), where someone did."""
    if not signal_ids:
        return {}
    rows = session.exec(select(Event.signal_id, Person.display_name)
                        .join(Person, col(Person.id) == col(Event.actor_id))
                        .where(col(Event.signal_id).in_(signal_ids),
                               Event.action == "acknowledged")
                        .order_by(col(Event.at)))
    return {int(signal_id): str(name) for signal_id, name in rows}


@dataclass(frozen=True)
class RiskFacts:
    """What the at-risk rule reads of one account, over its recent and open signals."""

    account_id: int
    complaints: int  # complaints since the window's start
    open_complaints: int
    overdue: int  # open cases waiting past their acknowledge SLA
    detractors: int  # scores of 0-6 given with its signals since the window's start
    departments: frozenset[int]  # the departments of those signals


def risk_facts(*, session: Session, since: datetime, now: datetime,
               open_statuses: Sequence[str]) -> list[RiskFacts]:
    """The facts of every account with a signal since `since` or a case still open."""
    open_case = and_(col(Signal.status).in_(open_statuses), col(Signal.merged_into_id).is_(None))
    recent = col(Signal.created_at) >= since
    wanted = and_(col(Signal.account_id).is_not(None), or_(recent, open_case))

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    rows = session.execute(sa_select(
        col(Signal.account_id), count(and_(col(Signal.kind) == "complaint", recent)),
        count(and_(col(Signal.kind) == "complaint", open_case)),
        count(and_(open_case, col(Signal.status) == "routed", col(Signal.ack_due_at) < now)),
        count(and_(col(Signal.score) <= 6, recent)))
        .where(wanted).group_by(col(Signal.account_id))).all()
    departments: dict[int, set[int]] = {}
    for account_id, department_id in session.exec(
            select(Signal.account_id, Signal.department_id).where(wanted).distinct()):
        departments.setdefault(int(account_id or 0), set()).add(int(department_id))
    return [RiskFacts(int(account_id), int(complaints or 0), int(open_complaints or 0),
                      int(overdue or 0), int(detractors or 0),
                      frozenset(departments.get(int(account_id), ())))
            for account_id, complaints, open_complaints, overdue, detractors in rows]


def last_risk_events(*, session: Session, actions: Sequence[str], account_id: int | None = None
                     ) -> dict[int, str]:
    """Each account's latest event among `actions` (whether it was last marked at risk)."""
    query = select(AccountEvent.account_id, AccountEvent.action).where(
        col(AccountEvent.action).in_(actions))
    if account_id is not None:
        query = query.where(AccountEvent.account_id == account_id)
    rows = session.exec(query.order_by(col(AccountEvent.at), col(AccountEvent.id)))
    return {int(account_id): str(action) for account_id, action in rows}


def lock_account(*, session: Session, account_id: int) -> Account | None:
    """The account, locked until the transaction ends (PostgreSQL; SQLite writes one at a time)."""
    return session.exec(select(Account).where(col(Account.id) == account_id)
                        .with_for_update()).first()


@dataclass(frozen=True)
class AccountFigures:
    """One account's line of the workbook's Customers sheet."""

    account: Account
    signals: int
    open: int
    overdue: int
    scores: tuple[int, int, int]  # promoters, passives, detractors


def account_figures(*, session: Session, now: datetime, open_statuses: Sequence[str]
                    ) -> list[AccountFigures]:
    """Every account not merged into another, by name: its signals, open and overdue cases
    and its customer scores (given with its signals, or recorded under one of its names)."""
    open_case = and_(col(Signal.status).in_(open_statuses), col(Signal.merged_into_id).is_(None))
    counts = {int(a): (int(n), int(o or 0), int(late or 0)) for a, n, o, late in session.execute(
        sa_select(col(Signal.account_id), func.count(),
                  func.sum(case((open_case, 1), else_=0)),
                  func.sum(case((and_(open_case, col(Signal.status) == "routed",
                                      col(Signal.ack_due_at) < now), 1), else_=0)))
        .where(col(Signal.account_id).is_not(None)).group_by(col(Signal.account_id))).all()}
    scores: dict[int, list[int]] = {}
    with_signals = (sa_select(col(Signal.account_id), col(Score.value))
                    .join(Signal, col(Signal.id) == col(Score.signal_id))
                    .where(col(Score.kind) == "customer", col(Signal.account_id).is_not(None)))
    named = (sa_select(col(AccountAlias.account_id), col(Score.value))
             .join(AccountAlias, col(AccountAlias.name) == col(Score.customer))
             .where(col(Score.kind) == "customer", col(Score.signal_id).is_(None)))
    for statement in (with_signals, named):
        for account_id, value in session.execute(statement):
            scores.setdefault(int(account_id), []).append(int(value))
    figures = []
    for account in session.exec(select(Account).where(col(Account.merged_into_id).is_(None))
                                .order_by(col(Account.name), col(Account.id))):
        signals, opened, overdue = counts.get(account.id or 0, (0, 0, 0))
        values = scores.get(account.id or 0, [])
        figures.append(AccountFigures(account, signals, opened, overdue, (
            sum(v >= 9 for v in values), sum(7 <= v <= 8 for v in values),
            sum(v <= 6 for v in values))))
    return figures


def without_kept_signals(*, session: Session, account_ids: Sequence[int]) -> list[int]:
    """Those of the accounts that no signal keeping its texts names any more."""
    if not account_ids:
        return []
    kept = set(session.exec(select(Signal.account_id).where(
        col(Signal.account_id).in_(account_ids), col(Signal.erased_at).is_(None)).distinct()))
    return sorted(set(account_ids) - kept)


def erase_names(*, session: Session, account_id: int) -> int:
    """Remove every name of the account: its names, its own name (it reads as its number) and
    the names its audit trail holds; how many rows changed."""
    changed = _rowcount(session.execute(
        AccountAlias.__table__.delete().where(  # type: ignore[attr-defined]
            AccountAlias.__table__.c.account_id == account_id)))  # type: ignore[attr-defined]
    changed += _rowcount(session.execute(update(Account).where(col(Account.id) == account_id)
                                         .values(name=f"#{account_id}")))
    for event in events_of(session=session, account_id=account_id):
        kept = {key: value for key, value in event.details.items()
                if key not in ("name", "names")}
        if kept != event.details:
            event.details = kept
            session.add(event)
            changed += 1
    return changed


def forget_identities(*, session: Session, identities: Sequence[str], replacement: str) -> int:
    """The accounts' owners and audit trail name these identities no more."""
    changed = _rowcount(session.execute(update(Account).where(
        col(Account.owner_identity).in_(identities)).values(owner_identity=None)))
    changed += _rowcount(session.execute(update(AccountEvent).where(
        col(AccountEvent.actor).in_(identities)).values(actor=replacement)))
    return changed
