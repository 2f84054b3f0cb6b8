"""Every terminal flow forgiving and exact: a wrong answer is asked again with the
reason and nothing typed so far is lost; `/cancel` ends a flow at any step; a command typed
mid-flow runs instead of being swallowed; a button refuses before it asks anything.

In process, on SQLite and PostgreSQL (tests/support/dialog.py `TerminalDialog`). Kate (Sales)
reports; John heads Sales; Olga heads Logistics; the company speaks Russian (cards), people
read English unless the file says otherwise.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import col, select

from bot.core.service import Draft, VocService
from bot.core.shared.company import Company
from storage.models import Signal
from tests.support.dialog import TerminalDialog

KATE, JOHN = "slack:U0SALES1", "slack:U0SALESHEAD"
PROMPT = r"(Kate Brown|John Carter)> "
STEPS = ("Kind", "What did the customer say", "Customer", "Customer's score", "Department",
         "Anonymous")


def stored(service: VocService) -> list[Signal]:
    with service.db.read() as session:
        return list(session.exec(select(Signal).order_by(col(Signal.id))))


def test_a_wrong_answer_at_every_step_is_asked_again_and_nothing_is_lost(
        chat: TerminalDialog, service: VocService) -> None:
    chat.say("/voc")
    chat.expect(r"Kind \(complaint, praise, idea\): ")
    chat.say("rant")
    chat.expect(r"⚠ “rant” is not a kind of signal")
    chat.expect(r"Kind \(complaint, praise, idea\): ")
    chat.say("complaint")
    chat.expect(r"What did the customer say\? ")
    chat.say("   ")
    chat.expect(r"⚠ The text is empty")
    chat.say("The courier was three hours late")
    chat.expect(r"Customer \(optional\): ")
    chat.say("x" * 201)
    chat.expect(r"⚠ That is 201 characters long; the limit is 200\.")
    chat.say("Blue Sky Hotels")
    chat.expect(r"Customer's score 0-10 \(optional\): ")
    chat.say("11")
    chat.expect(r"⚠ A score is a whole number from 0 to 10; “11” is not\.")
    chat.say("3")
    chat.expect(r"Logistics \(logistics\) \*")
    chat.say("nosuchdept")
    chat.expect(r"⚠ Unknown department “nosuchdept”\. Known: ")
    chat.say("99")
    chat.expect(r"⚠ Unknown department “99”")
    chat.say("")  # Enter keeps the suggestion
    chat.expect(r"Anonymous\? \(y/N\): ")
    chat.say("n")
    chat.expect(r"Thank you! Complaint VOC-1 went to Logistics\.")
    chat.expect(r"matched: ")  # the suggestion's reason, not "chosen by the reporter"
    [signal] = stored(service)
    assert (signal.text, signal.customer, signal.score) == (
        "The courier was three hours late", "Blue Sky Hotels", 3)


@pytest.mark.parametrize("step", range(len(STEPS)))
def test_cancel_ends_the_report_at_any_step(chat: TerminalDialog, service: VocService,
                                            step: int) -> None:
    answers = ["complaint", "The courier was late", "", "", "", "n"]
    chat.say("/voc")
    for answer in answers[:step]:
        chat.say(answer)
    chat.expect(STEPS[step])
    chat.say("/cancel")
    chat.expect(r"Cancelled\.")
    chat.expect(r"Kate Brown> ")
    chat.say("/voc mine")
    chat.expect(r"Kate Brown> ")
    assert stored(service) == []


def test_a_command_typed_mid_report_runs_instead_of_being_swallowed(
        chat: TerminalDialog, service: VocService) -> None:
    service.capture(KATE, Draft("complaint", "The invoice was wrong"))
    chat.say("/voc")
    chat.say("idea")
    chat.expect(r"What did the customer say\? ")
    chat.say("/voc mine")
    chat.expect(r"Cancelled\.")
    chat.expect(r"VOC-1 · ")  # /voc mine ran
    assert len(stored(service)) == 1


def test_an_empty_reason_is_asked_again_not_read_as_a_command(
        service: VocService, company: Company) -> None:
    ref = service.capture(KATE, Draft("complaint", "The sales manager was rude")).signal.ref
    chat = TerminalDialog(service, company, JOHN)  # the card is printed as the chat starts
    chat.expect(r"John Carter> ")
    chat.say(button(chat, "Передать"))
    chat.expect(r"Department \(number or slug\): ")
    chat.say("logistics")
    chat.expect(r"Reason: ")
    chat.say("  ")
    chat.expect(r"⚠ A reason is required: say why\.")
    chat.expect(r"Reason: ")  # the department chosen is kept; only the reason is asked again
    chat.say("It is about the delivery")
    chat.expect(rf"{ref} now belongs to Logistics\.")
    chat.say("/quit")
    chat.close()


@pytest.mark.parametrize(("who", "label", "refusal"), [
    (KATE, "Передать", r"Only the heads of Sales"),
    (KATE, "Решить", r"Only the heads of Sales"),
    (KATE, "Принять в работу", r"Only the heads of Sales"),
    (JOHN, "0-10", r"Only the person who reported"),
    (JOHN, "Not resolved", r"Only the person who reported"),
    (KATE, "0-10", r"You have already rated"),
])
def test_a_button_refuses_before_it_asks_anything(
        service: VocService, company: Company, who: str, label: str, refusal: str) -> None:
    ref = service.capture(KATE, Draft("complaint", "The sales manager was rude")).signal.ref
    if label in ("0-10", "Not resolved"):
        service.resolve(JOHN, ref, "Apologised")  # Kate's note carries 0-10 and Not resolved
    if refusal.startswith("You have"):
        service.rate(KATE, ref, 8)
    chat = TerminalDialog(service, company, who)  # cards and notes print as the chat starts
    chat.expect(PROMPT)
    pressed_at = len(chat.output.text)
    chat.say(button(chat, label))
    chat.expect(refusal)
    chat.expect(PROMPT)
    assert not any(question in chat.output.text[pressed_at:] for question in (
        "Department (number", "Reason: ", "Resolution note: ", "Your rating", "Why is it"))
    assert service.show(KATE, ref).status in ("routed", "resolved")
    chat.say("/quit")
    chat.close()


def button(chat: TerminalDialog, label: str) -> str:
    """The number the chat gave the newest button labelled `label`."""
    found = re.findall(rf"\[(\d+)\] {re.escape(label)}", chat.output.text)
    assert found, chat.output.text
    return str(found[-1])


@pytest.mark.parametrize(("label", "answers", "question"), [
    ("Передать", [], r"Department \(number or slug\): "),
    ("Передать", ["logistics"], r"Reason: "),
    ("Решить", [], r"Resolution note: "),
])
def test_cancel_ends_a_card_action_at_any_step(service: VocService, company: Company,
                                                label: str, answers: list[str],
                                                question: str) -> None:
    ref = service.capture(KATE, Draft("complaint", "The sales manager was rude")).signal.ref
    chat = TerminalDialog(service, company, JOHN)
    chat.expect(r"John Carter> ")
    chat.say(button(chat, label))
    for answer in answers:
        chat.say(answer)
    chat.expect(question)
    chat.say("/cancel")
    chat.expect(r"Cancelled\.")
    chat.expect(r"John Carter> ")
    chat.say("/voc queue")  # the chat reads commands again, and nothing changed
    chat.expect(ref)
    chat.expect(r"John Carter> ")
    signal = service.show(JOHN, ref)
    assert (signal.status, signal.department.slug) == ("routed", "sales")
    chat.say("/quit")
    chat.close()
