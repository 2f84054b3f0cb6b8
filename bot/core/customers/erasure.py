"""Customer names are texts from reports: retention and `forget` treat them so.

Retention: when a case's texts go, its customer text goes with them (privacy.SignalTexts), and
an account that no case keeping its texts names any more loses its names (its names, its own
name, which then reads as its number, and the names in its audit trail), unless it came from
the customer list (`voc customers import`), the company's own register. Its cases keep their
account, so old counts by customer stay. Forget: the person owns no account any more and the
accounts' audit trail names them no more; the customer names in their reports stay, as the
reports' texts do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlmodel import Session, col, select

from bot.core.customers.accounts import AccountAction
from bot.core.shared.identity import FORGOTTEN_IDENTITY
from storage import accounts as store
from storage.models import AccountEvent, Signal


class Erasing(Protocol):
    """What privacy.Erasure says is being erased (the cases, or one person's identities)."""

    @property
    def signal_ids(self) -> Sequence[int]: ...

    @property
    def identities(self) -> Sequence[str]: ...


class AccountNames:
    """Names of accounts no kept case names (retention); a forgotten person's ownership."""

    name = "customer names"

    def erase(self, session: Session, erasure: Erasing) -> int:
        changed = 0
        if erasure.signal_ids:
            accounts = sorted({a for a in session.exec(select(Signal.account_id).where(
                col(Signal.id).in_(erasure.signal_ids))) if a is not None})
            for account_id in store.without_kept_signals(session=session, account_ids=accounts):
                if not _listed(session, account_id):
                    changed += store.erase_names(session=session, account_id=account_id)
        if erasure.identities:
            changed += store.forget_identities(session=session, identities=erasure.identities,
                                               replacement=FORGOTTEN_IDENTITY)
        return changed


def _listed(session: Session, account_id: int) -> bool:
    """Whether the account came from (or was updated by) the customer list."""
    return any("signal" not in event.details for event in session.exec(
        select(AccountEvent).where(AccountEvent.account_id == account_id, col(
            AccountEvent.action).in_([AccountAction.CREATED, AccountAction.UPDATED]))))
