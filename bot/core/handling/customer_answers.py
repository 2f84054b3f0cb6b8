"""The reporter's answer to "Pied Piper (5 reports): the same customer?" under a new report:
yes joins the account (and keeps the spelling as one of its names, so it is not asked again),
no gives the customer an account of its own. Either is a line in the account's audit trail."""

from __future__ import annotations

from bot.core.customers.accounts import (
    AccountAction,
    assign_new_account,
    confirm_account,
    find_account,
)
from bot.core.customers.matching import Verdict
from bot.core.customers.names import customer_name
from bot.core.handling.rules import acting
from bot.core.presentation.views import SignalView, format_ref
from bot.core.presentation.visibility import signal_view
from bot.core.shared.context import Core
from bot.core.shared.domain import Action
from bot.core.shared.errors import InvalidTransition
from bot.core.shared.i18n import N_
from bot.core.shared.rows import row_id
from storage import accounts as store


def same_customer(core: Core, actor: str, ref: str, account: str) -> SignalView:
    """Yes: the report's customer is the account the question named (`account`, its id)."""
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.CUSTOMER_SAME)
        assert signal.customer is not None  # the guard asks for one
        found = find_account(session, customer_name(signal.customer))
        if (found.verdict is not Verdict.ASK or found.account_id is None
                or str(found.account_id) != account.strip()):
            # a forged or altered button, or the names changed since (a merge): ask no more
            raise InvalidTransition(N_("This question about the customer of %(ref)s is no "
                                       "longer open."), ref=format_ref(row_id(signal)))
        now = core.clock()
        confirm_account(session, row_id(signal), found.account_id, signal.customer, now)
        store.record_event(session=session, account_id=found.account_id, action=AccountAction.NAMED,
                           actor=actor, details={"signal": row_id(signal),
                                                 "name": signal.customer}, now=now)
        session.refresh(signal)
        return signal_view(core, session, signal, viewer=person, history=False)


def new_customer(core: Core, actor: str, ref: str) -> SignalView:
    """No: the report's customer is a customer of its own."""
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.CUSTOMER_NEW)
        assert signal.customer is not None
        assign_new_account(session, row_id(signal), signal.customer, actor=actor,
                           now=core.clock())
        session.refresh(signal)
        return signal_view(core, session, signal, viewer=person, history=False)

