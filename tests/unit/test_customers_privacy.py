"""Customer names under retention and `forget`, on SQLite and PostgreSQL: an account that no
case keeping its texts names any more loses its names (unless it came from the customer list);
a forgotten person owns no account and the accounts' audit trail names them no more."""

from __future__ import annotations

import dataclasses

from sqlmodel import select

from bot.core.customers.importing import ImportReport, import_customers, parse_rows
from bot.core.people.privacy import forget, retention
from bot.core.service import Draft, VocService
from bot.core.shared.identity import FORGOTTEN_IDENTITY
from storage import accounts as store
from storage.models import Account, AccountAlias, AccountEvent
from tests.conftest import FakeClock

KATE, OLGA = "slack:U0SALES1", "slack:U0LOGHEAD"


def closed_case(service: VocService, customer: str) -> str:
    ref = service.capture(KATE, Draft("complaint", "The courier was late", customer=customer,
                                      department="logistics")).signal.ref
    service.resolve(OLGA, ref, "New courier")
    return ref


def test_retention_erases_the_names_no_kept_case_holds(service: VocService,
                                                      clock: FakeClock) -> None:
    service.company = dataclasses.replace(service.company, retention_days=30)
    report = ImportReport()
    import_customers(service.db, parse_rows([(2, {"name": "Hooli", "owner": OLGA})],
                                            service.company.listed_identities(), report),
                     report, actor="cli:test", now=clock())
    closed_case(service, "Pied Piper")  # account #2, from reports only
    closed_case(service, "Hooli")  # the listed account
    kept = closed_case(service, "Initech")
    clock.advance(days=20)
    service.reopen(KATE, kept, "Still late")  # Initech's case is open again: kept
    clock.advance(days=15)
    assert retention(service, actor="test").cases == 2

    with service.db.read() as session:
        names = {a.id: a.name for a in session.exec(select(Account))}
        aliases = {a.name for a in session.exec(select(AccountAlias))}
        trail = [e.details for e in store.events_of(session=session, account_id=2)]
    assert names == {1: "Hooli", 2: "#2", 3: "Initech"}
    assert aliases == {"Hooli", "Initech"}  # Pied Piper is written nowhere any more
    assert all("Pied Piper" not in str(details) for details in trail)
    # The cases keep their account: old counts by customer stay.
    story = service.customer_story("slack:U0ADMIN", "#2")
    assert story.signals == 1 and story.name == "#2"


def test_forget_takes_the_person_off_the_accounts(service: VocService, clock: FakeClock) -> None:
    report = ImportReport()
    import_customers(service.db, parse_rows([(2, {"name": "Hooli", "owner": KATE})],
                                            service.company.listed_identities(), report),
                     report, actor="cli:test", now=clock())
    asked = service.capture(KATE, Draft("complaint", "Late", customer="Hooli XYZ"))
    service.perform(KATE, "customer_same", asked.signal.ref, value="1")
    forget(service, KATE, actor="cli:ops@host")
    with service.db.read() as session:
        account = session.get(Account, 1)
        actors = {e.actor for e in session.exec(select(AccountEvent))}
    assert account is not None and account.owner_identity is None
    assert KATE not in actors and FORGOTTEN_IDENTITY in actors
    assert account.name == "Hooli"  # the customer's names are not the person's
