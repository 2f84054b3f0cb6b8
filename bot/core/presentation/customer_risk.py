"""Customers at risk as people read them: the digest's section and the owner's message."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.customers.risk import AtRisk
from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.presentation.render import STORY
from bot.core.shared.i18n import Translator


def why(account: AtRisk, t: Translator) -> str:
    """"2 complaints in 30 days; 1 case(s) overdue"."""
    return "; ".join(reason.render(t.gettext) for reason in account.reasons)


def at_risk_lines(accounts: Sequence[AtRisk], t: Translator) -> list[str]:
    """The digest's section: each customer at risk and why (nothing when none is)."""
    if not accounts:
        return []
    return [t.gettext("Customers at risk:")] + [
        f"  {account.name} (#{account.account_id}): {why(account, t)}" for account in accounts]


def at_risk_note(account: AtRisk, t: Translator) -> OutboundMessage:
    """To the account's owner when the customer turns at risk."""
    return OutboundMessage(
        title="⚠ " + t.gettext("Your customer %(name)s is now at risk: %(why)s") % {
            "name": account.name, "why": why(account, t)},
        buttons=(Button(STORY, "", t.gettext("This customer's story"),
                        value=str(account.account_id)),))
