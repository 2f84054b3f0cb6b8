"""Accounts on both databases: a customer list imported, signals joined to the account their
customer text names, accounts merged and split, each change in the account's audit trail."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.core.customers import accounts
from bot.core.customers.importing import ImportReport, import_customers, parse_rows
from bot.core.customers.matching import Verdict
from bot.core.customers.names import customer_name
from bot.core.customers.problems import CustomerProblem
from bot.core.service import Draft, VocService
from bot.core.shared.i18n import Translator
from storage import accounts as store
from storage.db import Database
from storage.models import Account, Signal
from tests.conftest import FakeClock

KATE = "slack:U0SALES1"
OWNER = "slack:U0LOGHEAD"
ACTOR = "cli:test@host"


def _import(db: Database, clock: FakeClock, rows: list[dict[str, str]]) -> ImportReport:
    report = ImportReport()
    good = parse_rows(enumerate(rows, 2), {OWNER}, report)
    return import_customers(db, good, report, actor=ACTOR, now=clock())


def _signal(service: VocService, customer: str) -> int:
    result = service.capture(KATE, Draft("complaint", "The courier was late", customer=customer))
    assert result.signal.id is not None
    return result.signal.id


def _assign(db: Database, clock: FakeClock, signal_id: int, text: str) -> Verdict:
    with db.write() as session:
        return accounts.assign_account(session, signal_id, text, actor=KATE,
                                       now=clock()).verdict


def _account_of(db: Database, signal_id: int) -> int | None:
    with db.read() as session:
        signal = session.get(Signal, signal_id)
        assert signal is not None
        return signal.account_id


def test_an_import_makes_accounts_that_variants_of_their_names_find(
        db: Database, clock: FakeClock) -> None:
    report = _import(db, clock, [
        {"name": "Pied Piper Inc.", "aliases": "PP; Пайд Пайпер", "owner": OWNER,
         "segment": "enterprise"},
        {"name": "Hooli", "aliases": "", "owner": "", "segment": ""},
    ])
    assert (report.created, report.updated, report.errors) == (2, 0, [])

    with db.read() as session:
        found = {text: accounts.find_account(session, customer_name(text)) for text in (
            "pied piper", "ООО «Пайд Пайпер»", "Pied Pipper", "HOOLI LLC", "Hooli XYZ",
            "Pied Pipes Logistics")}
        piper = accounts.resolve(session, "Pied Piper")
    assert piper.owner_identity == OWNER and piper.segment == "enterprise"
    assert {text: match.verdict for text, match in found.items()} == {
        "pied piper": Verdict.SAME, "ООО «Пайд Пайпер»": Verdict.SAME,
        "Pied Pipper": Verdict.SAME, "HOOLI LLC": Verdict.SAME, "Hooli XYZ": Verdict.ASK,
        "Pied Pipes Logistics": Verdict.NEW}
    assert found["Pied Pipper"].account_id == piper.id


def test_importing_the_same_file_twice_changes_nothing(db: Database, clock: FakeClock) -> None:
    rows = [{"name": "Hooli", "aliases": "Hooli Corp", "owner": OWNER, "segment": "smb"}]
    _import(db, clock, rows)
    again = _import(db, clock, rows)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    with db.read() as session:
        assert len(store.list_accounts(session=session)) == 1
        account = accounts.resolve(session, "Hooli")
        assert [e.action for e in store.events_of(session=session,
                                                  account_id=account.id or 0)] == ["created"]

    moved = _import(db, clock, [{"name": "HOOLI Inc", "aliases": "Хули", "segment": "enterprise"}])
    assert (moved.created, moved.updated) == (0, 1)
    with db.read() as session:
        account = accounts.resolve(session, "Хули")
        trail = store.events_of(session=session, account_id=account.id or 0)
    assert (account.owner_identity, account.segment) == (OWNER, "enterprise")
    assert (trail[-1].action, trail[-1].details) == (
        "updated", {"row": 2, "segment": "enterprise", "names": ["Хули"]})


def test_bad_rows_are_reported_by_number_and_the_good_ones_kept(
        db: Database, clock: FakeClock) -> None:
    report = _import(db, clock, [
        {"name": "Hooli", "owner": OWNER},
        {"name": "", "aliases": "X"},
        {"name": "Initech", "owner": "slack:U0NOBODY"},
        {"name": "ООО", "aliases": ""},
        {"name": "Globex", "segment": "s" * 101},
    ])
    assert report.created == 1
    reasons = {row: problem.render(Translator("en")) for row, problem in report.errors}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert "name is missing" in reasons[3]
    assert "slack:U0NOBODY" in reasons[4] and "departments file" in reasons[4]
    assert "legal form" in reasons[5]
    assert "101" in reasons[6]
    assert "отдел" not in reasons[4]
    assert "файле отделов" in report.errors[1][1].render(Translator("ru"))


def test_a_row_whose_names_belong_to_two_accounts_is_refused(
        db: Database, clock: FakeClock) -> None:
    _import(db, clock, [{"name": "Hooli"}, {"name": "Initech"}])
    report = _import(db, clock, [{"name": "Hooli", "aliases": "Initech"}])
    assert [row for row, _ in report.errors] == [2]
    assert "#1 Hooli" in str(report.errors[0][1]) and "#2 Initech" in str(report.errors[0][1])


def test_signals_join_the_account_their_customer_names_and_new_customers_get_one(
        db: Database, service: VocService, clock: FakeClock) -> None:
    _import(db, clock, [{"name": "Pied Piper"}])
    captured = [service.capture(KATE, Draft("complaint", "The courier was late", customer=text)
                                ).signal for text in ("ООО «Пайд Пайпер»", "Hooli", "HOOLI Inc.",
                                                      "Hooli XYZ")]
    first, second, third, fourth = (signal.id for signal in captured)
    with db.read() as session:
        piper = accounts.resolve(session, "Pied Piper").id
        hooli = accounts.resolve(session, "Hooli").id  # made for the new customer
    assert [_account_of(db, s) for s in (first, second, third, fourth)] == [
        piper, hooli, hooli, None]
    # Unsure: the reporter is asked, with the account's name and its reports so far.
    assert captured[3].customer_question == (hooli, "Hooli", 2)
    assert _assign(db, clock, fourth, "Hooli XYZ") is Verdict.ASK  # still unsure, no change
    assert captured[2].customer_others == 1  # "1 other signal from this customer in 30 days"

    with db.read() as session:  # a spelling joined by similarity is not kept as a name
        assert [a.name for a in store.aliases_of(session=session, account_id=piper or 0)] == [
            "Pied Piper"]

    with db.write() as session:  # the reporter said "the same customer"
        accounts.confirm_account(session, fourth, hooli or 0, "Hooli XYZ", clock())
    assert _account_of(db, fourth) == hooli
    with db.read() as session:
        again = accounts.find_account(session, customer_name("hooli xyz"))
    assert (again.verdict, again.account_id) == (Verdict.SAME, hooli)


def test_merge_moves_names_and_signals_and_both_accounts_keep_the_event(
        db: Database, service: VocService, clock: FakeClock) -> None:
    _import(db, clock, [{"name": "Pied Piper", "owner": OWNER}, {"name": "PP Russia"}])
    signal = _signal(service, "PP Russia")
    _assign(db, clock, signal, "PP Russia")

    report = accounts.merge(db, "PP Russia", "Pied Piper", actor=ACTOR, now=clock())

    assert (report.source, report.target, report.names, report.signals) == (
        "#2 PP Russia", "#1 Pied Piper", 1, 1)
    assert _account_of(db, signal) == 1
    with db.read() as session:
        assert [s.account.name for s in store.list_accounts(session=session)] == ["Pied Piper"]
        assert accounts.resolve(session, "PP Russia").id == 1
        with pytest.raises(CustomerProblem, match="merged into #1 Pied Piper"):
            accounts.resolve(session, "#2")
        trail = {a: [(e.action, e.actor, e.details) for e in store.events_of(
            session=session, account_id=a)] for a in (1, 2)}
    assert trail[2][-1] == ("merged_into", ACTOR, {"into": 1, "names": 1, "signals": 1})
    assert trail[1][-1] == ("merged", ACTOR, {"from": 2, "names": 1, "signals": 1})
    with pytest.raises(CustomerProblem, match="same account"):
        accounts.merge(db, "Pied Piper", "PP Russia", actor=ACTOR, now=clock())


def test_split_gives_a_name_and_its_signals_an_account_of_their_own(
        db: Database, service: VocService, clock: FakeClock) -> None:
    _import(db, clock, [{"name": "Hooli", "aliases": "Hooli XYZ"}])
    kept, moved = _signal(service, "Hooli Inc."), _signal(service, "Hooli XYZ")
    with db.write() as session:
        for signal, text in ((kept, "Hooli Inc."), (moved, "Hooli XYZ")):
            accounts.confirm_account(session, signal, 1, text, clock())

    report = accounts.split(db, "Hooli", "Hooli XYZ", actor=ACTOR, now=clock())

    assert (report.source, report.account, report.signals) == ("#1 Hooli", "#2 Hooli XYZ", 1)
    assert (_account_of(db, kept), _account_of(db, moved)) == (1, 2)
    with db.read() as session:
        assert accounts.find_account(session, customer_name("Hooli XYZ")).account_id == 2
        assert accounts.find_account(session, customer_name("Hooli")).account_id == 1
        assert [e.action for e in store.events_of(session=session, account_id=2)] == [
            "split_from"]
    with pytest.raises(CustomerProblem, match="no other name"):
        accounts.split(db, "Hooli XYZ", "Hooli XYZ", actor=ACTOR, now=clock())
    with db.read() as session:
        assert len(session.exec(select(Account)).all()) == 2
