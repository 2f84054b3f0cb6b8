"""The weekly digest's figures (computed in SQL), its text, and who may see which: the company
digest for leadership and admins, a department's for its heads. Platform-free: the chart,
the workbook and posting are jobs/digest.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.customers import risk
from bot.core.people import directory as people
from bot.core.presentation.customer_risk import at_risk_lines
from bot.core.presentation.messages import OutboundMessage
from bot.core.presentation.render import KIND_MARKS, signal_line
from bot.core.presentation.views import format_ref
from bot.core.presentation.visibility import signal_view
from bot.core.reporting import themes as themes_
from bot.core.reporting.nps import Nps
from bot.core.reporting.periods import Week
from bot.core.shared.context import Core
from bot.core.shared.domain import Kind
from bot.core.shared.errors import Forbidden, InvalidInput
from bot.core.shared.i18n import N_, Translator
from storage import digest_queries as dq
from storage import queries as q
from storage import vectors

TREND_WEEKS = 12
INTERNAL_WEEKS = 4  # internal NPS covers the last four weeks (a monthly pulse round)
MIN_RESPONDENTS = 3  # internal NPS of a supplier is hidden below this many distinct people
TOP = 3


@dataclass(frozen=True)
class SupplierNps:
    """Internal NPS of one supplier department; `hidden` below MIN_RESPONDENTS people."""

    slug: str
    name: str
    nps: Nps
    respondents: int

    @property
    def hidden(self) -> bool:
        """Too few people answered to show it without exposing them."""
        return self.respondents < MIN_RESPONDENTS


@dataclass(frozen=True)
class LoopHealth:
    """A department's loop health with its names."""

    slug: str
    name: str
    row: dq.LoopRow
    sla_hours: float = 0.0  # the department's acknowledge SLA, in business hours

    @property
    def within_sla(self) -> float | None:
        """Share of due items acknowledged within the SLA (0-1), None when nothing was due."""
        return self.row.within_sla / self.row.due if self.row.due else None

    @property
    def problem(self) -> tuple[float, ...]:
        """Sort key: overdue items first, then the worst SLA share, then the busiest."""
        share = self.within_sla
        return (-self.row.open_overdue, 1.0 if share is None else share, -self.row.routed)


@dataclass(frozen=True)
class DigestFigures:
    """Everything a digest says, for one week (the last of `weeks`)."""

    weeks: tuple[Week, ...]
    as_of: datetime
    nps: tuple[Nps, ...]  # customer NPS per week of `weeks`
    kinds: tuple[dict[str, int], ...]  # signals per kind per week of `weeks`
    loop: tuple[LoopHealth, ...]  # ordered so problems come first
    internal: tuple[SupplierNps, ...]
    praise: tuple[dq.VerbatimRow, ...]
    complaints: tuple[dq.VerbatimRow, ...]
    departments: dict[int, tuple[str, str, float]] = field(default_factory=dict)
    # Rising themes of the week's complaints: the company's, and each department's (by id).
    themes: tuple[themes_.Theme, ...] = ()
    department_themes: dict[int, tuple[themes_.Theme, ...]] = field(default_factory=dict)
    # Resolution codes of the week's resolutions per department, most frequent first, and
    # their labels by language ([company] resolution_codes, resolution_labels).
    codes: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    code_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    at_risk: tuple[risk.AtRisk, ...] = ()  # customers at risk as of the digest

    def top_codes(self, department_id: int | None = None) -> list[tuple[str, int]]:
        """The most frequent codes of one department, or company-wide (None)."""
        if department_id is not None:
            return self.codes.get(department_id, [])[:TOP]
        totals: dict[str, int] = {}
        for rows in self.codes.values():
            for code, n in rows:
                totals[code] = totals.get(code, 0) + n
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:TOP]

    @property
    def week(self) -> Week:
        """The week reported."""
        return self.weeks[-1]


def digest_figures(core: Core, week: Week) -> DigestFigures:
    """The digest's figures for `week` (and its 12-week trend), computed in SQL."""
    tz = core.company.timezone
    weeks = tuple(week.shift(i - TREND_WEEKS + 1) for i in range(TREND_WEEKS))
    bounds = [w.bounds(tz)[0] for w in weeks] + [week.bounds(tz)[1]]
    start, end = bounds[-2], bounds[-1]
    as_of = min(core.clock(), end)
    with core.db.read() as session:
        names = dq.department_names(session=session)
        customer = dq.customer_nps_by_week(session=session, bounds=bounds)
        kinds = dq.signals_by_week_and_kind(session=session, bounds=bounds)
        loop = dq.loop_health(session=session, start=start, end=end, as_of=as_of,
                              business_hours=core.company.business_hours)
        internal = dq.internal_nps(session=session, start=bounds[-1 - INTERNAL_WEEKS], end=end)
        praise = dq.verbatims(session=session, start=start, end=end, kind="praise", limit=TOP)
        complaints = dq.verbatims(session=session, start=start, end=end, kind="complaint",
                                  limit=TOP)
        recent = [themes_.Complaint(*row) for row in dq.complaints(
            session=session, start=bounds[-2 - themes_.BASELINE_WEEKS], end=end)]
        threshold = themes_.THEME_THRESHOLDS.get(core.meaning.model)
        meant = vectors.read(session=session, model=core.meaning.model,
                             signal_ids=[c.id for c in recent]) if threshold else {}
        codes = (dq.resolution_codes(session=session, start=start, end=end)
                 if core.company.resolution_codes else {})
        at_risk = risk.at_risk(session, core.company.at_risk, as_of)
    week_complaints = [c for c in recent if c.at >= start]
    earlier_complaints = [c for c in recent if c.at < start]
    health = sorted((LoopHealth(names[d][0], names[d][1], row, names[d][2])
                     for d, row in loop.items()),
                    key=lambda h: (h.problem, h.name))
    suppliers = sorted((SupplierNps(names[d][0], names[d][1],
                                    Nps(c.promoters, c.passives, c.detractors), c.respondents)
                        for d, c in internal.items()), key=lambda s: s.name)
    return DigestFigures(
        weeks=weeks, as_of=as_of,
        nps=tuple(Nps(c.promoters, c.passives, c.detractors) for c in customer),
        kinds=tuple(kinds), loop=tuple(health), internal=tuple(suppliers),
        praise=tuple(praise), complaints=tuple(complaints), departments=names,
        themes=themes_.of_week(week_complaints, earlier_complaints, meant, threshold),
        department_themes=themes_.by_department(week_complaints, earlier_complaints, meant,
                                                threshold),
        codes=codes, code_labels=core.company.resolution_labels, at_risk=tuple(at_risk))


# -- rendering -------------------------------------------------------------------------------
def _signed(value: float) -> str:
    return f"{value:+.0f}"


def nps_text(nps: Nps, t: Translator) -> str:
    """`+23 ±12 (n=85)`, or a note that nobody answered; small samples are marked."""
    if nps.score is None:
        return t.gettext("no answers")
    assert nps.margin is not None
    text = f"{_signed(nps.score)} ±{nps.margin:.0f} (n={nps.n})"
    if nps.small:
        text += " · " + t.gettext("too few answers")
    return text


def _change(now: float | None, before: float | None, t: Translator) -> str:
    if now is None or before is None:
        return ""
    delta = now - before
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "="
    return " " + t.gettext("%(arrow)s %(delta)s vs last week") % {
        "arrow": arrow, "delta": _signed(delta)}


def _week_title(week: Week, t: Translator, timezone: str) -> str:
    start, end = week.bounds(timezone)
    return t.gettext("week %(week)s, %(start)s – %(end)s") % {
        "week": str(week), "start": t.day(start), "end": t.day(end - timedelta(hours=12))}


def _loop_line(health: LoopHealth, t: Translator) -> str:
    """One department's loop; the SLA and the median both in business hours, and said so."""
    row, share = health.row, health.within_sla
    mark = ("🔴" if row.open_overdue or (share is not None and share < 0.8) else
            "🟡" if share is not None and share < 0.95 else "🟢")
    params = {"department": t.department(health.slug, health.name), "routed": row.routed,
              "resolved": row.resolved,
              "open": row.open, "overdue": row.open_overdue,
              "sla": "–" if share is None else f"{share:.0%}",
              "median": "–" if row.median_ack_hours is None else f"{row.median_ack_hours:.1f}",
              "limit": f"{health.sla_hours:g}"}
    return mark + " " + t.gettext(
        "%(department)s: routed %(routed)d, acknowledged within the SLA of %(limit)s business "
        "hours %(sla)s, median %(median)s business hours to acknowledge, resolved "
        "%(resolved)d, open %(open)d (overdue %(overdue)d)") % params


def _verbatim_line(row: dq.VerbatimRow, names: dict[int, tuple[str, str, float]],
                   t: Translator) -> str:
    who = row.reporter if row.reporter is not None else t.gettext("anonymous")
    score = f" · {row.score}/10" if row.score is not None else ""
    if row.reporters > 1:
        score += " · " + t.gettext("People who reported this: %(n)d") % {"n": row.reporters}
    text = row.text if len(row.text) <= 300 else row.text[:299] + "…"
    return (f"{KIND_MARKS[Kind(row.kind)]} “{text}” — {who}, "
            f"{t.department(*names.get(row.department_id, ('', '?', 0))[:2])} (VOC-{row.id})"
            f"{score}")


def _theme_lines(rising: tuple[themes_.Theme, ...], t: Translator,
                 names: dict[int, tuple[str, str, float]] | None = None) -> list[str]:
    lines = [t.gettext("Rising themes in complaints, against the previous %(weeks)d weeks:")
             % {"weeks": themes_.BASELINE_WEEKS}]
    lines += [t.ngettext("“%(theme)s”: %(count)d complaint (%(share)s, before %(before)s), "
                         "e.g. %(ref)s",
                         "“%(theme)s”: %(count)d complaints (%(share)s, before %(before)s), "
                         "e.g. %(ref)s", theme.count) % {
        "theme": theme.label, "count": theme.count, "share": f"{theme.share:.0%}",
        "before": f"{theme.before:.0%}", "ref": format_ref(theme.example)}
        + ("; " + t.gettext("departments: %(names)s") % {"names": ", ".join(
            names[d][1] for d in theme.departments if d in names)}
           if names and theme.departments else "")
        for theme in rising] or [t.gettext("nothing rising this week")]
    return lines


def _codes_text(figures: DigestFigures, rows: list[tuple[str, int]], t: Translator) -> str:
    labels = figures.code_labels.get(t.locale, {})
    return ", ".join(f"{labels.get(code, code)} {n}" for code, n in rows)


def _code_lines(figures: DigestFigures, t: Translator) -> list[str]:
    """Why the week's cases happened: the top resolution codes, company-wide and per
    department (nothing when the company keeps no codes or none was given)."""
    if not figures.codes:
        return []
    lines = [t.gettext("Why this week's cases happened (resolution codes): %(codes)s") % {
        "codes": _codes_text(figures, figures.top_codes(), t)}]
    for department_id in sorted(figures.codes, key=lambda d: figures.departments.get(
            d, ("", "", 0))[1]):
        lines.append("  " + t.gettext("%(department)s: %(codes)s") % {
            "department": t.department(*figures.departments.get(department_id,
                                                                ("", "?", 0))[:2]),
            "codes": _codes_text(figures, figures.top_codes(department_id), t)})
    return lines


def render_digest(figures: DigestFigures, t: Translator, timezone: str) -> OutboundMessage:
    """The leadership digest in one reader's language."""
    now, before = figures.nps[-1], figures.nps[-2]
    kinds_now, kinds_before = figures.kinds[-1], figures.kinds[-2]
    trend = " ".join("·" if n.score is None else _signed(n.score) for n in figures.nps)
    fields = [
        (t.gettext("Customer NPS"), nps_text(now, t) + _change(now.score, before.score, t)),
        (t.gettext("12-week trend"), trend),
    ]
    for kind, label in ((Kind.COMPLAINT, N_("Complaints")), (Kind.PRAISE, N_("Praise")),
                        (Kind.IDEA, N_("Ideas"))):
        count, previous = kinds_now.get(kind.value, 0), kinds_before.get(kind.value, 0)
        fields.append((t.gettext(label), t.gettext("%(count)d (last week %(previous)d)") % {
            "count": count, "previous": previous}))
    footer = [t.gettext("Loop health, problems first:")]
    footer += [_loop_line(h, t) for h in figures.loop] or [t.gettext("nothing was routed")]
    footer += _code_lines(figures, t)
    footer.append(t.gettext("Internal NPS, last %(weeks)d weeks (pulses and handling "
                            "ratings):") % {"weeks": INTERNAL_WEEKS})
    for supplier in figures.internal:
        supplier_name = t.department(supplier.slug, supplier.name)
        if supplier.hidden:
            footer.append(t.gettext("%(department)s: fewer than %(min)d people answered, "
                                    "not shown") % {"department": supplier_name,
                                                    "min": MIN_RESPONDENTS})
        else:
            footer.append(f"{supplier_name}: {nps_text(supplier.nps, t)}")
    if not figures.internal:
        footer.append(t.gettext("no answers"))
    for label, rows in ((N_("Top praise:"), figures.praise),
                        (N_("Top complaints:"), figures.complaints)):
        footer.append(t.gettext(label))
        footer += [_verbatim_line(r, figures.departments, t) for r in rows] or [
            t.gettext("none this week")]
    footer += _theme_lines(figures.themes, t, figures.departments)
    footer += at_risk_lines(figures.at_risk, t)
    title = "📊 " + t.gettext("Weekly VoC digest, %(period)s") % {
        "period": _week_title(figures.week, t, timezone)}
    return OutboundMessage(title=title, fields=tuple(fields), footer=tuple(footer))


def render_head_digest(figures: DigestFigures, slug: str, open_lines: list[str],
                       t: Translator, timezone: str) -> OutboundMessage:
    """A department head's digest: their department's figures and open items."""
    health = next((h for h in figures.loop if h.slug == slug), None)
    name = t.department(slug, next((n for s, n, _ in figures.departments.values()
                                    if s == slug), slug))
    footer = [_loop_line(health, t) if health else t.gettext("nothing was routed")]
    own = next((d for d, (s, _n, _h) in figures.departments.items() if s == slug), None)
    if own is not None and figures.codes.get(own):
        footer.append(t.gettext("Why this week's cases happened (resolution codes): "
                                "%(codes)s") % {
            "codes": _codes_text(figures, figures.top_codes(own), t)})
    supplier = next((s for s in figures.internal if s.slug == slug), None)
    if supplier is not None:
        footer.append(t.gettext("Internal NPS of %(department)s, last %(weeks)d weeks: "
                                "%(value)s") % {
            "department": name, "weeks": INTERNAL_WEEKS,
            "value": t.gettext("fewer than %(min)d people answered, not shown") % {
                "min": MIN_RESPONDENTS} if supplier.hidden else nps_text(supplier.nps, t)})
    footer.append(t.gettext("Open items, overdue first:") if open_lines
                  else t.gettext("%(department)s has nothing open.") % {"department": name})
    footer += open_lines
    department_id = next((i for i, (s, _, _) in figures.departments.items() if s == slug), None)
    footer += _theme_lines(figures.department_themes.get(department_id or -1, ()), t)
    footer += at_risk_lines([a for a in figures.at_risk if department_id in a.departments], t)
    title = "📊 " + t.gettext("%(department)s, %(period)s") % {
        "department": name, "period": _week_title(figures.week, t, timezone)}
    return OutboundMessage(title=title, footer=tuple(footer))


# -- audiences -------------------------------------------------------------------------------
def _open_lines(core: Core, slug: str, t: Translator) -> list[str]:
    with core.db.read() as session:
        department = q.department_by_slug(session=session, slug=slug)
        if department is None or department.id is None:
            return []
        rows, _ = q.open_queue(session=session, department_id=department.id,
                               now=core.clock(), limit=10)
        return [signal_line(signal_view(core, session, s, viewer=None, history=False), t)
                for s in rows]


def head_digest(core: Core, slug: str, figures: DigestFigures,
                t: Translator) -> OutboundMessage:
    """One department's digest in `t`'s language."""
    return render_head_digest(figures, slug, _open_lines(core, slug, t), t,
                              core.company.timezone)


def digest_preview(core: Core, actor: str, week: str | None = None) -> OutboundMessage:
    """The digest for the actor, in their language: the company digest for leadership and
    admins, their department's for heads; Forbidden for anyone else."""
    chosen = _week(core, week)
    person = people.person(core, actor)
    try:
        people.require_leadership(core, actor)
    except Forbidden:
        if person is None or not person.heads:
            raise
        t = core.translator(person.locale)
        return head_digest(core, person.heads[0], digest_figures(core, chosen), t)
    assert person is not None
    return render_digest(digest_figures(core, chosen), core.translator(person.locale),
                         core.company.timezone)


def _week(core: Core, week: str | None) -> Week:
    if week is None:
        return Week.last_complete(core.clock(), core.company.timezone)
    try:
        return Week.parse(week)
    except ValueError:
        raise InvalidInput(N_("“%(value)s” is not an ISO week like 2026-W48."),
                           value=week[:20]) from None


