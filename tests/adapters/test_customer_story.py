"""A customer's story in Slack (`/voc customer NAME` and the card's button), Telegram
(`/customer NAME`) and the terminal, on SQLite and PostgreSQL: the account's signals across
departments newest first, its NPS from its own scores, open cases with owner and SLA state, the
last contact; a reader sees the texts of the departments they may see, and an anonymous
report counts but never names its reporter.

Kate (Sales) reported VOC-1 for Logistics with a score of 3; Ivan (Logistics) reported VOC-2
for Finance anonymously; a 10 was recorded for the customer on its own; Olga heads Logistics
and acknowledged VOC-1.
"""

from __future__ import annotations

import pytest

from bot.core.presentation.customer_story import story_reply
from bot.core.service import Draft, VocService
from bot.core.shared.errors import VocError
from tests.adapters.test_case_conversation import webhook
from tests.support.dialog import TerminalDialog
from tests.support.fake_slack import SlackUser, Workspace
from tests.support.fake_telegram import FakeTelegram, User

KATE, IVAN, OLGA, ADMIN = "slack:U0SALES1", "slack:U0LOG1", "slack:U0LOGHEAD", "slack:U0ADMIN"


def seed(service: VocService) -> None:
    service.capture(KATE, Draft("complaint", "The courier was late", customer="Pied Piper",
                                score=3, department="logistics"))
    service.capture(IVAN, Draft("complaint", "The invoice was doubled",
                                customer="PiedPiper Inc.", department="finance", anonymous=True))
    service.record_score(KATE, 10, customer="Pied Piper")
    service.acknowledge(OLGA, "VOC-1")


def test_the_story_keeps_rights_and_anonymity(service: VocService) -> None:
    seed(service)
    en = service.translator("en")
    story = service.customer_story(OLGA, "pied piper")
    assert (story.name, story.signals, story.nps.n, story.nps.score) == ("Pied Piper", 2, 2, 0)
    assert dict(story.departments) == {"Logistics": 1, "Finance": 1}
    assert [line.ref for line in story.newest] == ["VOC-2", "VOC-1"]  # newest first
    text = story_reply(story, en).plain_text()
    assert "Customer NPS: +0 (2 answers)" in text
    assert "Complaint VOC-1 · Logistics · acknowledged by Olga Petrova" in text
    assert "Complaint VOC-2 · Finance · acknowledge by" in text  # open, with its due time
    assert "“The courier was late” (Kate Brown)" in text
    assert "its text is for Finance" in text and "doubled" not in text  # not her department

    everything = story_reply(service.customer_story(ADMIN, "#1"), en).plain_text()
    assert "“The invoice was doubled” (anonymous)" in everything
    assert "Ivan" not in everything  # an anonymous report never names its reporter

    with pytest.raises(VocError, match="Did you mean Pied Piper"):
        service.customer_story(OLGA, "Pied Pipers")
    with pytest.raises(VocError, match="No account is called “Hooli”"):
        service.customer_story(OLGA, "Hooli")
    with pytest.raises(VocError, match="Name the customer"):
        service.customer_story(OLGA, "  ")


def test_the_story_in_slack_telegram_and_from_a_card(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, telegram = served
    service, slack = workspace.service, workspace.slack
    seed(service)
    kate = workspace.user("U0SALES1")
    story = kate.say("customer Pied Piper")
    assert "Customer Pied Piper (#1): 2 signals" in story, story
    assert "“The courier was late” (Kate Brown)" in story and "doubled" not in story

    # The Finance card says the customer wrote before, and opens the story.
    card = slack.wait_for_message("C0FINANCE", "VOC-2")
    ru = service.translator("ru")  # the company's language
    assert ru.ngettext("%(count)d other signal from this customer in 30 days",
                       "%(count)d other signals from this customer in 30 days", 1) % {
        "count": 1} in card.plain
    finance_head = workspace.user("U0FINHEAD")
    finance_head.press(card, ru.gettext("This customer's story"))
    told = slack.wait_for_response(SlackUser.token_of(finance_head.last_response_url or ""),
                                   "Pied Piper (#1)")
    assert "1 другой сигнал от этого клиента за 30 дней" in card.plain
    assert "The invoice was doubled" in str(told) and "Ivan" not in str(told)

    # Leadership on Telegram, in Russian.
    elena = User(1000, "Elena", "Sokolova", language_code="ru")
    webhook(workspace, telegram.message(elena, "/customer Pied Piper"))
    told_ru = telegram.expect(elena.id, r"Клиент Pied Piper \(#1\)")
    assert "The invoice was doubled" in told_ru["text"] and "Ivan" not in told_ru["text"]


def test_the_story_at_the_terminal(chat: TerminalDialog, service: VocService) -> None:
    seed(service)
    chat.say("/customer")
    chat.expect(r"Name the customer, or give its account number like #12\.")
    chat.say("/customer Pied Piper")
    chat.expect(r"Customer Pied Piper \(#1\): 2 signals")
    chat.expect(r"its text is for Finance")


def test_heads_merge_and_split_accounts_from_chat(chat: TerminalDialog,
                                                  service: VocService) -> None:
    service.capture(KATE, Draft("complaint", "Late", customer="Pied Piper"))
    service.capture(KATE, Draft("complaint", "Rude", customer="PP Russia"))
    chat.say('/customer merge "PP Russia" "Pied Piper"')  # Kate heads nothing
    chat.expect(r"Only heads of departments, leadership and admins can merge or split")
    chat.say("/as slack:U0ADMIN")
    chat.say('/customer merge "PP Russia" "Pied Piper"')
    chat.expect(r"#2 PP Russia merged into #1 Pied Piper: names moved: 1, signals moved: 1")
    assert service.customer_story(ADMIN, "PP Russia").signals == 2
    chat.say('/customer split "Pied Piper" "PP Russia"')
    chat.expect(r"#3 PP Russia split off #1 Pied Piper: signals moved: 1")
    chat.say("/customer merge Hooli")
    chat.expect(r"Usage: /customer NAME, /customer merge")
    with pytest.raises(VocError, match="No account is called “Hooli”"):
        service.customer(OLGA, "merge Hooli #1")  # a head may; the account must exist
