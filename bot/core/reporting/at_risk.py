"""The account owner told, through the outbox and exactly once, when a customer turns at risk
(the rule: bot/core/customers/risk.py). Run with the SLA sweep: an overdue case turns an
account as time passes, with no one acting."""

from __future__ import annotations

from bot.core.customers import risk
from bot.core.presentation.customer_risk import at_risk_note
from bot.core.shared.context import Core
from storage import queries as q
from storage.outbox import NewMessage, enqueue


def tell_owners(core: Core) -> int:
    """Mark the accounts that turned at risk or recovered since the last look, and queue a
    message to each turned account's owner; how many turned."""
    now = core.clock()
    with core.db.write() as session:
        turned = risk.turns(session, core.company.at_risk, now)
        messages = []
        for turn in turned:
            owner = turn.account.owner_identity
            if owner is None:
                continue  # no one looks after it: the digest still lists it
            person = q.person_by_identity(session=session, identity=owner)
            t = core.translator(core.locale_of(person) if person else core.company.locale)
            messages.append(NewMessage(
                dedupe_key=f"at_risk:{turn.event_id}", destination=owner, operation="send",
                payload={"message": at_risk_note(turn.account, t).to_json()}))
        if messages:
            enqueue(session=session, now=now, messages=messages)
        return len(turned)
