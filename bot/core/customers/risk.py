"""Customers at risk: the company's rule (`[company.at_risk]` in the departments file) applied
to each account's recent and open signals, and the account's owner told once when it turns.

A customer is at risk when any reason holds: as many complaints in 30 days as the rule says, a
score of 0-6 in 30 days while one of its complaints is open, or a case waiting past its
acknowledge SLA. An account's audit trail records when it turned at risk and when it stopped
being so, which is what makes the owner's message go exactly once per turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.core.customers.problems import N_
from bot.core.shared.company import AtRiskRule
from bot.core.shared.domain import OPEN_STATUSES
from storage import accounts as store

WINDOW = timedelta(days=30)
TURNED = "at_risk"  # the account's audit event when it turns at risk
RECOVERED = "recovered"  # ... and when no reason holds any more


@dataclass(frozen=True)
class Reason:
    """Why a customer is at risk: an English template (translated where shown) and its values."""

    message: str
    params: dict[str, Any]

    def render(self, gettext: Callable[[str], str]) -> str:
        return gettext(self.message) % self.params


@dataclass(frozen=True)
class AtRisk:
    """An account at risk, and why."""

    account_id: int
    name: str
    owner_identity: str | None
    reasons: tuple[Reason, ...]
    departments: frozenset[int]


def reasons(rule: AtRiskRule, facts: store.RiskFacts) -> tuple[Reason, ...]:
    """The reasons `rule` finds in one account's facts (none: not at risk)."""
    found = []
    if rule.complaints_in_30_days and facts.complaints >= rule.complaints_in_30_days:
        found.append(Reason(N_("%(count)d complaints in 30 days"), {"count": facts.complaints}))
    if rule.detractor_with_open_complaint and facts.detractors and facts.open_complaints:
        found.append(Reason(N_("a score of 0-6 with a complaint open"), {}))
    if rule.overdue_case and facts.overdue:
        found.append(Reason(N_("%(count)d case(s) overdue"), {"count": facts.overdue}))
    return tuple(found)


def at_risk(session: Session, rule: AtRiskRule, now: datetime) -> list[AtRisk]:
    """Every account at risk now, by name."""
    found = []
    for facts in store.risk_facts(session=session, since=now - WINDOW, now=now,
                                  open_statuses=[str(s) for s in OPEN_STATUSES]):
        why = reasons(rule, facts)
        if why:
            account = store.account_by_id(session=session, account_id=facts.account_id)
            if account is not None and account.merged_into_id is None:
                found.append(AtRisk(facts.account_id, account.name, account.owner_identity,
                                    why, facts.departments))
    return sorted(found, key=lambda a: (a.name.casefold(), a.account_id))


@dataclass(frozen=True)
class Turn:
    """An account that turned at risk now (its audit event's id keys the owner's message)."""

    account: AtRisk
    event_id: int


def turns(session: Session, rule: AtRiskRule, now: datetime) -> list[Turn]:
    """Record which accounts turned at risk and which recovered since the last look; the
    accounts that turned (their owners are to be told once)."""
    current = {a.account_id: a for a in at_risk(session, rule, now)}
    marked = {account_id for account_id, action in store.last_risk_events(
        session=session, actions=(TURNED, RECOVERED)).items() if action == TURNED}
    turned = []
    for account_id in sorted(current.keys() - marked):
        store.lock_account(session=session, account_id=account_id)  # two replicas: one turn
        if store.last_risk_events(session=session, actions=(TURNED, RECOVERED),
                                  account_id=account_id).get(account_id) == TURNED:
            continue
        account = current[account_id]
        event = store.record_event(session=session, account_id=account_id, action=TURNED,
                                   actor="bot", details={"reasons": [
                                       r.message % r.params for r in account.reasons]}, now=now)
        turned.append(Turn(account, event))
    for account_id in sorted(marked - current.keys()):
        store.record_event(session=session, account_id=account_id, action=RECOVERED,
                           actor="bot", details={}, now=now)
    return turned
