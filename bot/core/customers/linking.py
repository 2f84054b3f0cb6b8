"""Capture's side of accounts: each new signal joined to the account its customer text names,
inside the capture transaction, with what its card and the reporter's reply say about it.

A sure match joins the account, a new customer gets one, and an unsure match changes nothing:
the reporter is asked ("Pied Piper (5 reports) — the same customer?"). Each name costs a few
indexed queries (the name's key, its candidates, a count), so capture stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.customers.accounts import assign_account, assign_new_account, find_account
from bot.core.customers.matching import Verdict
from bot.core.customers.names import customer_name
from storage import accounts as store

RECENT = timedelta(days=30)  # "3 other signals from this customer in 30 days"


@dataclass(frozen=True)
class AccountLink:
    """What capture learned about a signal's customer."""

    account_id: int | None  # the account it joined (None: asked about, or no customer)
    others: int = 0  # the account's other signals in the last 30 days
    question: tuple[int, str, int] | None = None  # unsure: (account id, its name, its reports)


NO_LINK = AccountLink(None)


def link_accounts(session: Session, signals: Sequence[tuple[int, str | None]], *,
                  actor: str | Sequence[str], now: datetime) -> list[AccountLink]:
    """Join each (signal id, customer text) to its account, in the caller's transaction."""
    actors = [actor] * len(signals) if isinstance(actor, str) else list(actor)
    return [link_account(session, signal_id, customer, actor=who, now=now)
            if customer else NO_LINK
            for (signal_id, customer), who in zip(signals, actors, strict=True)]


def link_account(session: Session, signal_id: int, customer: str, *, actor: str,
                 now: datetime) -> AccountLink:
    """Join one signal to its account, or say what to ask the reporter."""
    name = customer_name(customer)
    found = find_account(session, name)
    if found.verdict is Verdict.SAME and found.account_id is not None:
        store.set_account_id(session=session, signal_id=signal_id, account_id=found.account_id)
    elif found.verdict is Verdict.NEW and name.key:
        try:  # only a new name takes a savepoint: another writer may be adding it now
            with session.begin_nested():
                found = assign_new_account(session, signal_id, customer, actor=actor, now=now)
        except IntegrityError:
            found = assign_account(session, signal_id, customer, actor=actor, now=now)
    if found.account_id is None:
        return NO_LINK
    if found.verdict is Verdict.ASK:
        account = store.account_by_id(session=session, account_id=found.account_id)
        called = account.name if account is not None else found.alias
        reports = store.signal_count(session=session, account_id=found.account_id)
        return AccountLink(None, question=(found.account_id, called, reports))
    return AccountLink(found.account_id,
                       others=others_recent(session, found.account_id, signal_id, now))


def others_recent(session: Session, account_id: int, signal_id: int, now: datetime) -> int:
    """The account's signals of the last 30 days other than `signal_id`."""
    return store.recent_count(session=session, account_id=account_id, since=now - RECENT,
                              besides=signal_id)
