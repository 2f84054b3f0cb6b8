"""A customer the bot is unsure of is asked about at capture, in Slack, Telegram and the
terminal chat, on SQLite and PostgreSQL: "Is “Pied Piper Russia” the customer Pied Piper
(2 reports)?". Yes joins the account and keeps the spelling (not asked again), no makes an
account of its own; a forged answer changes nothing. Kate reports from Slack, Pavel forwards a
customer's message on Telegram (the webhook of `voc serve`), Kate again at the terminal.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.core.service import Draft, VocService
from bot.core.shared.errors import VocError
from storage import accounts as store
from storage.models import Account, Signal
from tests.adapters.test_case_conversation import webhook
from tests.adapters.test_telegram_flows import PAVEL
from tests.support.dialog import TerminalDialog
from tests.support.fake_slack import Message, SlackUser, Workspace
from tests.support.fake_telegram import FakeTelegram, button

KATE = "slack:U0SALES1"


def seed(service: VocService) -> None:
    """Pied Piper, with two reports so far."""
    for text in ("The delivery was late", "The invoice was wrong"):
        service.capture(KATE, Draft("complaint", text, customer="Pied Piper"))


def account_of(service: VocService, signal_id: int) -> int | None:
    with service.db.read() as session:
        signal = session.get(Signal, signal_id)
        assert signal is not None
        return signal.account_id


def labels(message: Message) -> list[str]:
    return [b["text"]["text"] for b in message.buttons()]


def test_yes_in_slack_joins_the_account_and_no_on_telegram_makes_one(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, telegram = served
    service, slack = workspace.service, workspace.slack
    seed(service)
    kate = workspace.user("U0SALES1")
    kate.command("")
    view = slack.wait_for_view(kate.last_trigger or "")
    kate.submit(view, {"kind": "complaint", "text": "The sofa arrived scratched",
                       "customer": "Pied Piper Russia"})
    reply = slack.wait_for_message("D" + kate.id, "VOC-3")
    assert "Is “Pied Piper Russia” the customer Pied Piper (2 reports)?" in reply.plain
    assert labels(reply)[-2:] == ["Yes, it is Pied Piper", "No, another customer"]
    assert account_of(service, 3) is None  # nothing is guessed while the question is open
    kate.press(reply, "Yes, it is Pied Piper")
    slack.wait_for_response(SlackUser.token_of(kate.last_response_url or ""),
                            "VOC-3 is filed under its customer's account")
    assert account_of(service, 3) == 1
    # The spelling is now a name of the account: the next report is not asked about.
    again = service.capture(KATE, Draft("complaint", "Late again", customer="Pied Piper Russia"))
    assert again.signal.customer_question is None and account_of(service, again.signal.id) == 1
    kate.press(reply, "No, another customer")  # a second answer changes nothing
    slack.wait_for_response(SlackUser.token_of(kate.last_response_url or ""),
                            "The customer of VOC-3 is already settled.")
    assert account_of(service, 3) == 1

    # Pavel forwards a customer's own message: its sender is the customer.
    sender = {"type": "user", "date": 1764000000,
              "sender_user": {"id": 5555, "is_bot": False, "first_name": "Pide",
                              "last_name": "Piper"}}
    webhook(workspace, telegram.message(PAVEL, "Your courier broke my lamp",
                                        forward_origin=sender))
    kind = telegram.expect(PAVEL.id, r"complaint, praise or an idea\?")
    webhook(workspace, telegram.callback(PAVEL, kind, button(kind, "Complaint")))
    asked = telegram.expect(PAVEL.id, r"Is “Pide Piper” the customer Pied Piper \(4 reports\)\?")
    assert "VOC-5" in asked["text"]
    webhook(workspace, telegram.callback(PAVEL, asked, button(asked, "No, another customer")))
    telegram.expect(PAVEL.id, r"VOC-5 is filed under a new customer account")
    with service.db.read() as session:
        created = session.exec(select(Account).where(Account.name == "Pide Piper")).one()
        assert [e.action for e in store.events_of(session=session, account_id=created.id or 0)
                ] == ["created"]
    assert account_of(service, 5) == created.id


def test_the_terminal_asks_too_and_a_forged_answer_is_refused(
        chat: TerminalDialog, service: VocService) -> None:
    seed(service)
    chat.say("/voc")
    for answer in ("complaint", "The courier did not call", "Pied Paper", "", "", "y"):
        chat.say(answer)
    chat.expect(r"Is “Pied Paper” the customer Pied Piper \(2 reports\)\?")
    number = chat.expect(r"\[(\d+)\] Yes, it is Pied Piper").group(1)
    chat.say(number)
    chat.expect(r"VOC-3 is filed under its customer's account")
    assert account_of(service, 3) == 1

    # Someone else's report, or an account the bot never offered: refused, nothing changes.
    other = service.capture("slack:U0LOG1", Draft("complaint", "Lost parcel",
                                                  customer="Pied Pipers"))
    assert other.signal.customer_question is not None
    with pytest.raises(VocError, match="Only the person who reported"):
        service.perform(KATE, "customer_same", other.signal.ref, value="1")
    service.capture(KATE, Draft("praise", "Kind driver", customer="Hooli"))
    with pytest.raises(VocError, match="no longer open"):
        service.perform("slack:U0LOG1", "customer_same", other.signal.ref, value="2")
    assert account_of(service, other.signal.id) is None

