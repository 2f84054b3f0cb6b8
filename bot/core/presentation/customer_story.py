"""A customer's story as people read it: who the customer is, its NPS, its open cases with
their owner and SLA state, then its newest signals across departments."""

from __future__ import annotations

from bot.core.customers.accounts import MergeReport, SplitReport
from bot.core.handling.customer_accounts import CustomerResult
from bot.core.presentation.messages import OutboundMessage
from bot.core.presentation.render import STATUS_LABELS, first_line, kind_label
from bot.core.reporting.customer_story import CustomerStory, StoryLine
from bot.core.shared.domain import Status
from bot.core.shared.i18n import Translator


def customer_reply(result: CustomerResult, t: Translator) -> OutboundMessage:
    """A story, or what a merge or split from chat did."""
    if isinstance(result, MergeReport):
        return OutboundMessage(title=merged_line(result, t))
    if isinstance(result, SplitReport):
        return OutboundMessage(title=split_line(result, t))
    return story_reply(result, t)


def merged_line(report: MergeReport, t: Translator) -> str:
    """"#2 PP Russia merged into #1 Pied Piper: names moved: 1, signals moved: 3"."""
    return t.gettext("%(source)s merged into %(target)s: names moved: %(names)d, signals "
                     "moved: %(signals)d") % {"source": report.source, "target": report.target,
                                              "names": report.names, "signals": report.signals}


def split_line(report: SplitReport, t: Translator) -> str:
    """"#4 Hooli XYZ split off #1 Hooli: signals moved: 1"."""
    return t.gettext("%(account)s split off %(source)s: signals moved: %(signals)d") % {
        "account": report.account, "source": report.source, "signals": report.signals}


def story_reply(story: CustomerStory, t: Translator) -> OutboundMessage:
    """The story of one customer."""
    title = t.ngettext("Customer %(name)s (#%(id)d): %(count)d signal",
                       "Customer %(name)s (#%(id)d): %(count)d signals", story.signals) % {
        "name": story.name, "id": story.account_id, "count": story.signals}
    fields = [(t.gettext("Departments"), ", ".join(f"{t.named(name)} {count}"
                                                  for name, count in story.departments) or "—")]
    fields.append((t.gettext("Customer NPS"), nps_text(story, t)))
    if story.owner:
        fields.append((t.gettext("Account owner"), story.owner))
    if story.segment:
        fields.append((t.gettext("Segment"), story.segment))
    if story.last_contact is not None:
        fields.append((t.gettext("Last contact"), t.when(story.last_contact)))
    if len(story.names) > 1:
        fields.append((t.gettext("Also written as"), ", ".join(
            name for name in story.names if name != story.name)))
    footer = [t.gettext("Open cases:")] if story.open else [t.gettext("No open cases.")]
    footer += [open_line(line, t) for line in story.open]
    if story.newest:
        footer.append(t.gettext("Newest signals:"))
        footer += [signal_line(line, t) for line in story.newest]
    return OutboundMessage(title=title, fields=tuple(fields), footer=tuple(footer))


def nps_text(story: CustomerStory, t: Translator) -> str:
    """"+20 (5 answers)", or that there are none."""
    score = story.nps.score
    if score is None:
        return t.gettext("no scores yet")
    return t.ngettext("%(nps)+d (%(count)d answer)", "%(nps)+d (%(count)d answers)",
                      story.nps.n) % {"nps": round(score), "count": story.nps.n}


def open_line(line: StoryLine, t: Translator) -> str:
    """"VOC-3 · Logistics · acknowledged by Olga Petrova" or "... · overdue since 5 May"."""
    if line.status == Status.ACKNOWLEDGED:
        state = (t.gettext("acknowledged by %(who)s") % {"who": line.acknowledged_by}
                 if line.acknowledged_by else t.gettext(STATUS_LABELS[line.status]))
    elif line.overdue:
        state = t.gettext("overdue since %(when)s") % {"when": t.when(line.ack_due_at)}
    else:
        state = t.gettext("acknowledge by %(when)s") % {"when": t.when(line.ack_due_at)}
    return f"{kind_label(line.kind, t)} {line.ref} · {t.named(line.department)} · {state}"


def signal_line(line: StoryLine, t: Translator) -> str:
    """"3 May · Complaint VOC-7 · Finance · resolved: “The invoice…” (Kate Brown)"."""
    head = (f"{t.day(line.created_at)} · {kind_label(line.kind, t)} {line.ref} · "
            f"{t.named(line.department)} · {t.gettext(STATUS_LABELS[line.status])}")
    if line.text is None:
        return head + " · " + t.gettext("its text is for %(department)s") % {
            "department": t.named(line.department)}
    who = line.reporter if line.reporter is not None else t.gettext("anonymous")
    return f"{head}: “{first_line(line.text)}” ({who})"
