"""The workbook's Customers sheet: one line per account (signals, NPS from its own scores,
open and overdue cases, and why it is at risk, when it is)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.core.customers import risk
from bot.core.presentation.customer_risk import why
from bot.core.reporting.nps import Nps
from bot.core.shared.domain import OPEN_STATUSES
from jobs.workbook_cells import LongTextCell, TallRows, row_cells, widest
from storage import accounts as store


def customers_sheet(sheets: Any, session: Session) -> None:
    """Add the Customers sheet to the workbook `sheets` (jobs/excel.py's _Sheets) is writing."""
    t, service = sheets.t, sheets.service
    now = service.clock()
    figures = store.account_figures(session=session, now=now,
                                    open_statuses=[str(s) for s in OPEN_STATUSES])
    at_risk = {a.account_id: a for a in risk.at_risk(session, service.company.at_risk, now)}
    headers = [(t.gettext("Customer"), widest([f.account.name for f in figures], 20)),
               (t.gettext("Account"), 9), (t.gettext("Owner"), 16), (t.gettext("Segment"), 12),
               (t.gettext("Signals"), 9), (t.gettext("Customer NPS"), 9),
               (t.gettext("Answers"), 9), (t.gettext("Open"), 8), (t.gettext("Overdue"), 9),
               (t.gettext("At risk"), 40)]
    ws = sheets.sheet(t.gettext("Customers"), headers, len(figures))
    reasons = LongTextCell(ws, "J")  # wrapped: a long reason stays within the printed page
    rows = TallRows(ws, reasons)
    for line in figures:
        nps = Nps(*line.scores)
        risky = at_risk.get(line.account.id or 0)
        rows.append(row_cells(ws, [line.account.name, f"#{line.account.id}",
                                   line.account.owner_identity, line.account.segment,
                                   line.signals, None if nps.score is None else round(nps.score),
                                   nps.n, line.open, line.overdue,
                                   reasons(why(risky, t)) if risky else None]))
