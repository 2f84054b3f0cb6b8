"""Cards, notes and replies in the reader's language, as platform-free messages."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.handling.rules import RULES, label
from bot.core.presentation.event_words import in_reader_language, words_of
from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.presentation.views import (
    DepartmentView,
    EventView,
    PulseView,
    QueueView,
    ScoreView,
    SignalView,
    format_ref,
)
from bot.core.shared.domain import Action, Kind, Status
from bot.core.shared.errors import VocError
from bot.core.shared.i18n import N_, Translator

KIND_LABELS = {Kind.COMPLAINT: N_("Complaint"), Kind.PRAISE: N_("Praise"), Kind.IDEA: N_("Idea")}
KIND_MARKS = {Kind.COMPLAINT: "🔴", Kind.PRAISE: "🟢", Kind.IDEA: "💡"}
STATUS_LABELS = {
    Status.NEW: N_("new"), Status.ROUTED: N_("waiting for acknowledgement"),
    Status.ACKNOWLEDGED: N_("acknowledged"), Status.RESOLVED: N_("resolved"),
}


def named(department: DepartmentView, t: Translator) -> str:
    """A department's name in the reader's language."""
    return t.department(department.slug, department.name)


def kind_label(kind: Kind, t: Translator) -> str:
    """Complaint / Praise / Idea."""
    return t.gettext(KIND_LABELS[kind])


def _who(name: str | None, t: Translator) -> str:
    return name if name is not None else t.gettext("the reporter")


def history_line(event: EventView, t: Translator) -> str:
    """One event as a sentence: who did what, when, and why."""
    d = in_reader_language(event.details, t)
    params = {"who": _who(event.actor, t), "when": t.when(event.at),
              "to": d.get("to_name", ""), "from": d.get("from_name", ""),
              "text": (d.get("note") or d.get("reason") or d.get("answer") or d.get("question")
                       or ""), "value": d.get("value", ""), "department": d.get("department", ""),
              "case": d.get("into") or d.get("from") or ""}
    words = words_of(event.action)
    template = words.history
    if event.actor is None and words.unnamed is not None:
        template = words.unnamed
    elif words.coded is not None and d.get("code_label"):
        params["code"] = d["code_label"]
        template = words.coded
    return t.gettext(template) % params


def routing_reason(signal: SignalView, t: Translator) -> str:
    """Why the signal went where it went."""
    if signal.routed_by_keywords or signal.routed_by_similar:
        parts = []
        if signal.routed_by_keywords:
            parts.append(t.gettext("matched: %(words)s") % {
                "words": ", ".join(signal.routed_by_keywords)})
        if signal.routed_by_similar and signal.routed_by_meaning:
            parts.append(t.gettext("like %(refs)s, in any language") % {
                "refs": ", ".join(format_ref(n) for n in signal.routed_by_similar)})
        elif signal.routed_by_similar:
            parts.append(t.gettext("similar past cases: %(refs)s") % {
                "refs": ", ".join(format_ref(n) for n in signal.routed_by_similar)})
        return "; ".join(parts)
    if signal.routed_by_meaning and signal.routed_by_fallback:
        return t.gettext("its words and its meaning point to different departments, so it went "
                         "to triage")
    if signal.routed_by_meaning:
        return t.gettext("what the text says matches this department's work")
    if signal.routed_by_fallback:
        return t.gettext("no department matched the text, so it went to triage")
    return t.gettext("chosen by the reporter")


def _signal_fields(signal: SignalView, t: Translator) -> list[tuple[str, str]]:
    fields = [(t.gettext("Status"), t.gettext(STATUS_LABELS[signal.status]))]
    if signal.customer:
        fields.append((t.gettext("Customer"), signal.customer))
    if signal.score is not None:
        fields.append((t.gettext("Customer score"), f"{signal.score}/10"))
    fields.append((t.gettext("Reported by"),
                   signal.reporter if signal.reporter is not None else t.gettext("anonymous")))
    if signal.resolution:
        fields.append((t.gettext("Resolution code"), signal.resolution))
    if signal.reporters > 1:
        fields.append((t.gettext("People who reported this"), str(signal.reporters)))
    if signal.status == Status.ROUTED:
        label = t.gettext("Overdue since") if signal.overdue else t.gettext("Acknowledge by")
        fields.append((label, t.when(signal.ack_due_at)))
    if signal.attachments:
        fields.append(attachments_field(signal.attachments, t))
    return fields


def attachments_field(names: Sequence[str], t: Translator) -> tuple[str, str]:
    """"2 attachments": their names (the files follow the card as replies)."""
    count = len(names)
    return (t.ngettext("%(count)d attachment", "%(count)d attachments", count) % {
        "count": count}, ", ".join(names))


def card(signal: SignalView, t: Translator, *, active: bool = True) -> OutboundMessage:
    """The department's card: what happened, who reported it, what is due, and the buttons."""
    title = t.gettext("%(mark)s %(kind)s %(ref)s for %(department)s") % {
        "mark": KIND_MARKS[signal.kind], "kind": kind_label(signal.kind, t), "ref": signal.ref,
        "department": named(signal.department, t)}
    buttons = [_button(action, signal, t, style=rule.style) for action, rule in RULES.items()
               if active and signal.status in rule.on_card]
    fields = _signal_fields(signal, t)
    if signal.customer_others and signal.account_id is not None:
        fields.append(customer_line(signal, t))
        buttons.append(Button(STORY, signal.ref, t.gettext("This customer's story"),
                              value=str(signal.account_id)))
    return OutboundMessage(
        title=title, quote=signal.text, fields=tuple(fields),
        footer=tuple(history_line(e, t) for e in signal.history if e.action != "routed"),
        buttons=tuple(buttons),
        link=signal.source_link,
    )


STORY = "customer"  # the card's button that opens its customer's story


def customer_line(signal: SignalView, t: Translator) -> tuple[str, str]:
    """"3 other signals from this customer in 30 days"."""
    count = signal.customer_others
    return (t.gettext("This customer"), t.ngettext(
        "%(count)d other signal from this customer in 30 days",
        "%(count)d other signals from this customer in 30 days", count) % {"count": count})


def _button(action: str, signal: SignalView, t: Translator, *, style: str = "default"
            ) -> Button:
    return Button(action, signal.ref, t.gettext(label(action)), style=style)


def moved_card(signal: SignalView, t: Translator) -> OutboundMessage:
    """The card left behind in a department the signal moved away from (no buttons)."""
    base = card(signal, t, active=False)
    title = t.gettext("%(mark)s %(kind)s %(ref)s moved to %(department)s") % {
        "mark": KIND_MARKS[signal.kind], "kind": kind_label(signal.kind, t), "ref": signal.ref,
        "department": named(signal.department, t)}
    return OutboundMessage(title=title, quote=base.quote, fields=base.fields[:1],
                           footer=base.footer, link=base.link)


def merged_card(signal: SignalView, case: str, t: Translator) -> OutboundMessage:
    """The card of a report merged into another case: where it went, no buttons."""
    base = card(signal, t, active=False)
    title = t.gettext("%(mark)s %(kind)s %(ref)s was merged into %(case)s") % {
        "mark": KIND_MARKS[signal.kind], "kind": kind_label(signal.kind, t), "ref": signal.ref,
        "case": case}
    return OutboundMessage(title=title, quote=base.quote, fields=base.fields[:1],
                           footer=base.footer, link=base.link)


def capture_reply(signal: SignalView, t: Translator, *, duplicate: bool = False,
                  refused: Sequence[VocError] = ()) -> OutboundMessage:
    """What the reporter sees right after reporting (and which files were not attached)."""
    if duplicate:
        title = t.gettext("%(ref)s was already recorded: nothing new was created.")
    else:
        title = t.gettext("Thank you! %(kind)s %(ref)s went to %(department)s.")
    title %= {"ref": signal.ref, "kind": kind_label(signal.kind, t),
              "department": named(signal.department, t)}
    fields = [(t.gettext("Why this department"), routing_reason(signal, t)),
              (t.gettext("Acknowledge by"), t.when(signal.ack_due_at))]
    if signal.attachments:
        fields.append(attachments_field(signal.attachments, t))
    buttons: tuple[Button, ...] = ()
    if signal.status == Status.ROUTED:
        buttons = (_button(Action.CHANGE_DEPARTMENT, signal, t),)
    footer: tuple[str, ...] = ()
    if signal.similar is not None and not duplicate:  # "me too": offer the open case
        case, line = signal.similar
        footer = (t.gettext("Same as %(case)s? “%(line)s”") % {"case": case, "line": line},)
        buttons += (Button(Action.JOIN, signal.ref, t.gettext("Add me to %(case)s") % {
                        "case": case}, value=case.removeprefix("VOC-"), style="primary"),
                    Button(Action.KEEP_APART, signal.ref, t.gettext("It is new")))
    if signal.customer_question is not None and not duplicate:
        question, answers = customer_question(signal, t)
        footer += (question,)
        buttons += answers
    return OutboundMessage(title=title, quote=signal.text, fields=tuple(fields),
                           footer=footer + tuple("⚠ " + refusal.render(t)
                                                 for refusal in refused),
                           buttons=buttons)


def customer_question(signal: SignalView, t: Translator) -> tuple[str, tuple[Button, ...]]:
    """The reply's question about an unsure customer match, and its two answers."""
    assert signal.customer_question is not None
    account_id, name, reports = signal.customer_question
    params = {"customer": signal.customer or "", "account": name, "count": reports}
    question = t.ngettext("Is “%(customer)s” the customer %(account)s (%(count)d report)?",
                          "Is “%(customer)s” the customer %(account)s (%(count)d reports)?",
                          reports) % params
    return question, (
        Button(Action.CUSTOMER_SAME, signal.ref, t.gettext("Yes, it is %(account)s") % params,
               value=str(account_id), style="primary"),
        Button(Action.CUSTOMER_NEW, signal.ref, t.gettext("No, another customer")))


def capture_failed(text: str, reason: str, t: Translator) -> OutboundMessage:
    """A report that could not be stored after the platform was answered: why, and the
    reporter's own words back, so nothing they wrote is lost."""
    title = t.gettext("⚠ Your report was NOT saved: %(reason)s") % {"reason": reason}
    return OutboundMessage(title=title, quote=text or None, footer=(
        t.gettext("Your text is quoted above: send it again when the bot is back."),))


def reporter_note(signal: SignalView, event: EventView, t: Translator) -> OutboundMessage:
    """The note telling the reporter what happened to their signal."""
    params = {"kind": kind_label(signal.kind, t), "ref": signal.ref, "who": _who(event.actor, t),
              "department": named(signal.department, t)}
    buttons: list[Button] = []
    title = words_of(event.action).told_reporter
    assert title is not None, f"the reporter is not told of {event.action}"
    if event.action == "resolved":  # what the reporter may do next
        buttons = [Button(Action.RATE, signal.ref, str(v), value=str(v)) for v in range(11)]
        buttons.append(_button(Action.REOPEN, signal, t, style="danger"))
    footer = [history_line(event, t)]
    if signal.merged_into:
        footer.append(t.gettext("Your report is part of %(case)s.") % {
            "case": signal.merged_into})
    if event.action == "resolved":
        footer.append(t.gettext("How well was it handled? Rate 0-10, or press “Not resolved”."))
    return OutboundMessage(title=t.gettext(title) % params, quote=signal.text,
                           footer=tuple(footer), buttons=tuple(buttons))


def first_line(text: str, limit: int = 80) -> str:
    """A case's first line, shortened, to recognise it by."""
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[:limit - 1] + "…"


def question_note(signal: SignalView, question: str, asker: str | None, t: Translator
                  ) -> OutboundMessage:
    """The DM asking the reporter a question, with "Reply" (the asker unnamed if None)."""
    params = {"kind": kind_label(signal.kind, t), "ref": signal.ref, "who": asker or "",
              "department": named(signal.department, t)}
    title = (t.gettext("❓ %(who)s (%(department)s) asks about your %(kind)s %(ref)s:")
             if asker else t.gettext("❓ %(department)s asks about your %(kind)s %(ref)s:"))
    return OutboundMessage(
        title=title % params, quote=question,
        fields=((t.gettext("Your report"), first_line(signal.text)),),
        footer=(t.gettext("Press “Reply” to answer (in Telegram you can also reply to this "
                          "message)."),),
        buttons=(_button(Action.ANSWER, signal, t, style="primary"),))


def answer_post(signal: SignalView, answer: str, question: str, t: Translator
                ) -> OutboundMessage:
    """The reporter's answer, posted under the case's cards."""
    title = t.gettext("💬 %(who)s answered about %(ref)s:") % {
        "who": signal.reporter or t.gettext("The reporter"), "ref": signal.ref}
    return OutboundMessage(title=title, quote=answer,
                           footer=(t.gettext("Question: %(text)s") % {"text": question},))


def reopened_notice(signal: SignalView, event: EventView, t: Translator) -> OutboundMessage:
    """Told to the department when the reporter says the signal is not resolved."""
    title = t.gettext("%(ref)s is back: the reporter says it is not resolved.") % {
        "ref": signal.ref}
    return OutboundMessage(title=title, quote=signal.text, footer=(history_line(event, t),))


def signal_line(signal: SignalView, t: Translator) -> str:
    """A one-line summary for lists."""
    text = signal.text if len(signal.text) <= 60 else signal.text[:59] + "…"
    state = t.gettext(STATUS_LABELS[signal.status])
    if signal.overdue:
        state = t.gettext("overdue")
    if signal.reporters > 1:  # "me too": how many people reported it
        state += " · " + t.gettext("People who reported this: %(n)d") % {"n": signal.reporters}
    department = named(signal.department, t)
    return f"{KIND_MARKS[signal.kind]} {signal.ref} · {department} · {state} · {text}"


def mine_reply(signals: Sequence[SignalView], t: Translator) -> OutboundMessage:
    """The reporter's own signals and their status."""
    if not signals:
        return OutboundMessage(title=t.gettext("You have not reported anything yet."))
    waiting = [s for s in signals if s.question]
    footer = [signal_line(s, t) for s in signals]
    footer += [t.gettext("❓ %(department)s asks about %(ref)s: %(question)s") % {
        "department": named(s.department, t), "ref": s.ref, "question": s.question}
        for s in waiting]
    buttons = tuple(Button(Action.ANSWER, s.ref, t.gettext("Reply about %(ref)s") % {
        "ref": s.ref}, style="primary") for s in waiting)
    return OutboundMessage(title=t.gettext("Your reports, newest first:"),
                           footer=tuple(footer), buttons=buttons)


def queue_reply(queue: QueueView, t: Translator) -> OutboundMessage:
    """A department's open queue with buttons to act, overdue first."""
    params = {"department": named(queue.department, t), "n": len(queue.items),
              "overdue": queue.overdue}
    if not queue.items:
        return OutboundMessage(title=t.gettext("%(department)s has nothing open.") % params)
    title = t.gettext("%(department)s — open: %(n)d, overdue: %(overdue)d")
    buttons: list[Button] = []
    for item in queue.items:
        if item.status == Status.ROUTED:
            buttons.append(Button(Action.ACKNOWLEDGE, item.ref, t.gettext("Acknowledge %(ref)s") % {
                "ref": item.ref}, style="primary"))
        buttons.append(Button(Action.RESOLVE, item.ref, t.gettext("Resolve %(ref)s") % {
            "ref": item.ref}))
    footer = [signal_line(s, t) for s in queue.items]
    if queue.other_departments:
        footer.append(t.gettext("You also head: %(slugs)s") % {
            "slugs": ", ".join(queue.other_departments)})
    return OutboundMessage(title=title % params, footer=tuple(footer), buttons=tuple(buttons))


def detail_reply(signal: SignalView, t: Translator) -> OutboundMessage:
    """A signal with its whole history."""
    return card(signal, t, active=False)


def score_reply(score: ScoreView, t: Translator) -> OutboundMessage:
    """Confirmation of a customer NPS answer."""
    return OutboundMessage(title=t.gettext("Recorded a customer score of %(value)d/10.") % {
        "value": score.value}, quote=score.comment)


def action_done(signal: SignalView, action: str, t: Translator) -> OutboundMessage:
    """Confirmation to the person who did `action`."""
    return OutboundMessage(title=t.gettext(RULES[action].done) % {
        "ref": signal.ref, "department": named(signal.department, t),
        "case": signal.merged_into or ""})


def sla_reminder(signal: SignalView, t: Translator) -> OutboundMessage:
    """To a head when the acknowledge SLA has passed."""
    title = t.gettext("⏰ %(kind)s %(ref)s for %(department)s is waiting for acknowledgement "
                      "(due %(when)s).") % {
        "kind": kind_label(signal.kind, t), "ref": signal.ref,
        "department": named(signal.department, t), "when": t.when(signal.ack_due_at)}
    return OutboundMessage(title=title, quote=signal.text, fields=tuple(_signal_fields(signal, t)),
                           buttons=(_button(Action.ACKNOWLEDGE, signal, t, style="primary"),),
                           link=signal.source_link)


def escalation(signal: SignalView, t: Translator) -> OutboundMessage:
    """To leadership when an item waits twice its acknowledge SLA."""
    title = t.gettext("🚨 %(kind)s %(ref)s: %(department)s has not acknowledged it for twice "
                      "its SLA.") % {"kind": kind_label(signal.kind, t), "ref": signal.ref,
                                     "department": named(signal.department, t)}
    return OutboundMessage(title=title, quote=signal.text, fields=tuple(_signal_fields(signal, t)),
                           link=signal.source_link)


def pulse_question(ref: str, supplier: str, round_id: str, t: Translator, *,
                   reminder: bool = False) -> OutboundMessage:
    """The internal NPS question about one supplier department, with 0-10 buttons."""
    title = t.gettext("How likely are you to recommend %(supplier)s's work to a colleague?") % {
        "supplier": supplier}
    footer = [t.gettext("Internal NPS pulse %(round)s: 0 = not at all, 10 = certainly. "
                        "Leadership sees only totals, never who answered.") % {
        "round": round_id}]
    if reminder:
        footer.insert(0, t.gettext("Reminder: this pulse closes soon."))
    buttons = tuple(Button("pulse", ref, str(v), value=str(v)) for v in range(11))
    return OutboundMessage(title=title, footer=tuple(footer), buttons=buttons)


def pulse_thanks(pulse: PulseView, t: Translator) -> OutboundMessage:
    """Confirmation of a pulse answer, with a button to add a comment."""
    params = {"value": pulse.value, "supplier": pulse.supplier.name}
    if pulse.comment:
        return OutboundMessage(title=t.gettext("Thank you: %(supplier)s %(value)d/10, with your "
                                               "comment.") % params, quote=pulse.comment)
    return OutboundMessage(
        title=t.gettext("Thank you: %(supplier)s %(value)d/10.") % params,
        buttons=(Button("pulse", pulse.ref, t.gettext("Add a comment"), value="comment"),))
