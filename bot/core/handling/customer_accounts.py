"""Accounts corrected from chat: `/customer merge A B` and `/customer split ACCOUNT NAME` (names
with spaces in quotes), by the heads, leadership and admins, each change in the account's audit
trail under the person's identity. Anything else after `/customer` is a customer to show."""

from __future__ import annotations

import shlex

from bot.core.customers import accounts
from bot.core.customers.accounts import MergeReport, SplitReport
from bot.core.customers.problems import CustomerProblem
from bot.core.reporting.customer_story import CustomerStory, customer_story
from bot.core.shared.context import Core
from bot.core.shared.errors import Forbidden, InvalidInput
from bot.core.shared.i18n import N_
from bot.core.shared.rows import row_id
from storage import queries as q

CustomerResult = CustomerStory | MergeReport | SplitReport
USAGE = N_("Usage: /customer NAME, /customer merge “ACCOUNT” “INTO ACCOUNT”, or /customer split "
           "“ACCOUNT” “NAME”.")


def customer(core: Core, actor: str, text: str) -> CustomerResult:
    """The story of the customer `text` names, or a merge or split it asks for."""
    word, _, _rest = text.strip().partition(" ")
    if word.lower() not in ("merge", "split"):
        return customer_story(core, actor, text)
    try:
        words = shlex.split(text)
    except ValueError:
        words = []
    if len(words) != 3:
        raise InvalidInput(USAGE)
    _require_keeper(core, actor)
    try:
        if word.lower() == "merge":
            return accounts.merge(core.db, words[1], words[2], actor=actor, now=core.clock())
        return accounts.split(core.db, words[1], words[2], actor=actor, now=core.clock())
    except CustomerProblem as problem:
        raise InvalidInput(problem.message, **problem.params) from None


def _require_keeper(core: Core, actor: str) -> None:
    """Heads of departments (the CCO office's among them), leadership and admins."""
    with core.db.read() as session:
        person = q.person_by_identity(session=session, identity=actor)
        if person is None or not (person.is_admin or person.is_leadership or q.headed_departments(
                session=session, person_id=row_id(person))):
            raise Forbidden(N_("Only heads of departments, leadership and admins can merge or "
                               "split customer accounts."))
