"""Customers at risk, on SQLite and PostgreSQL: the rule of `[company.at_risk]` (two complaints
in 30 days by default, a detractor score with a complaint open, an overdue case), the owner told
exactly once when the account turns, the digest's section (leadership: all; a head: those
touching their department) and the workbook's Customers sheet.

Pied Piper's owner is Alexei (Sales head). Kate reports for it to Logistics and to Finance.
"""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.core.customers.importing import ImportReport, import_customers, parse_rows
from bot.core.service import Draft, VocService
from bot.core.shared.company import AtRiskRule, Company
from bot.departments import DepartmentsFileError, parse_company
from jobs.excel import export_workbook
from jobs.sla_sweep import sweep
from storage.db import Database
from storage.models import Outbox
from tests.conftest import FakeClock
from tests.support.workbook import HEADERS, SHEETS

KATE, OWNER = "slack:U0SALES1", "slack:U0SALESHEAD"


def seed_account(service: VocService) -> None:
    report = ImportReport()
    rows = parse_rows([(2, {"name": "Pied Piper", "owner": OWNER})],
                      service.company.listed_identities(), report)
    import_customers(service.db, rows, report, actor="cli:test", now=service.clock())


def told(service: VocService) -> list[str]:
    with service.db.read() as session:
        return [row.payload["message"]["title"] for row in session.exec(
            select(Outbox).where(Outbox.destination == OWNER).order_by(Outbox.id))]


def complaint(service: VocService, text: str, department: str) -> None:
    service.capture(KATE, Draft("complaint", text, customer="Pied Piper", department=department))


def test_two_complaints_turn_it_and_the_owner_is_told_once(service: VocService) -> None:
    seed_account(service)
    complaint(service, "The courier was late", "logistics")
    sweep(service)
    assert told(service) == []  # one complaint: not yet
    complaint(service, "The invoice was doubled", "finance")
    sweep(service)
    sweep(service)  # the next sweeps say nothing new
    assert told(service) == [
        "⚠ Your customer Pied Piper is now at risk: 2 complaints in 30 days"]

    en = service.translator("en")
    company = service.digest_preview("slack:U0ADMIN").plain_text()
    assert "Customers at risk:" in company and "Pied Piper (#1): 2 complaints in 30 days" in company
    logistics = service.digest_preview("slack:U0LOGHEAD")  # touches Logistics
    it = service.digest_preview("slack:U0ITHEAD")  # does not touch IT
    ru = service.translator("ru")
    assert ru.gettext("Customers at risk:") in logistics.plain_text()
    assert ru.gettext("Customers at risk:") not in it.plain_text()

    book = load_workbook(io.BytesIO(export_workbook(service, t=en)))
    sheet = book.worksheets[SHEETS.index("Customers")]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS["Customers"]
    assert list(rows[1]) == ["Pied Piper", "#1", OWNER, None, 2, None, 0, 2, 0,
                             "2 complaints in 30 days"]


def test_the_rule_follows_the_departments_file(db: Database, company: Company,
                                              clock: FakeClock, service: VocService) -> None:
    strict = VocService(db, replace(company, at_risk=AtRiskRule(
        complaints_in_30_days=3, detractor_with_open_complaint=False)), clock=clock)
    seed_account(strict)
    complaint(strict, "The courier was late", "logistics")
    complaint(strict, "The invoice was doubled", "finance")
    strict.tell_owners_at_risk()
    assert told(strict) == []  # two complaints are not three
    clock.advance(days=5)  # both cases now wait past their acknowledge SLA
    strict.tell_owners_at_risk()
    assert told(strict) == ["⚠ Your customer Pied Piper is now at risk: 2 case(s) overdue"]
    strict.acknowledge("slack:U0LOGHEAD", "VOC-1")
    strict.acknowledge("slack:U0FINHEAD", "VOC-2")
    strict.tell_owners_at_risk()  # recovered: no message
    clock.advance(days=1)
    strict.capture(KATE, Draft("complaint", "Still no refund", customer="Pied Piper",
                               department="finance", score=2))
    clock.advance(days=5)
    strict.tell_owners_at_risk()  # turned again: told again
    assert len(told(strict)) == 2 and "3 complaints in 30 days" in told(strict)[1]


@pytest.mark.parametrize(("line", "said"), [
    ("complaints_in_30_days = -1", "complaints_in_30_days must be a whole number from 0"),
    ('overdue_case = "yes"', "overdue_case must be true or false"),
    ("colour = 1", "[company.at_risk] has no 'colour' (allowed: complaints_in_30_days, "
                   "detractor_with_open_complaint, overdue_case)"),
])
def test_a_bad_threshold_is_refused_clearly(line: str, said: str) -> None:
    text = ('[company]\ntriage = "support"\n[company.at_risk]\n' + line + "\n"
            '[[department]]\nslug = "support"\nname = "Support"\nslack_channel = "C1"\n')
    with pytest.raises(DepartmentsFileError) as caught:
        parse_company(text)
    assert said in str(caught.value)
    good = parse_company(text.replace(line, "complaints_in_30_days = 4"))
    assert good.at_risk == AtRiskRule(complaints_in_30_days=4)
