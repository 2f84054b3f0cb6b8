"""Slack, end to end: reporting from `/voc`, the form and the "Report to VoC" shortcut.

Each test runs our real HTTP app on a loopback port (on SQLite and on PostgreSQL) against the
fake Slack Web API, with signed requests shaped like Slack's (see tests/support/fake_slack.py).
"""

from __future__ import annotations

from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    NEW_EN,
    NEW_RU,
    SlackUser,
    Workspace,
    slack_workspace,
)


def test_a_complaint_is_stored_at_once_and_its_card_reaches_the_department(
        workspace: Workspace):
    kate = workspace.user("U0SALES1")
    answer = kate.say("complaint The courier was 3 hours late and the sofa arrived scratched")
    assert "Thank you! Complaint VOC-1 went to Logistics." in answer
    assert "matched: courier, late" in answer and "Acknowledge by" in answer
    assert "Change department" in answer

    # The company speaks Russian: the card in Logistics' channel is in Russian.
    card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    assert "The courier was 3 hours late" in card.plain and "Kate Brown" in card.plain
    assert [b["text"]["text"] for b in card.buttons()] == [
        "Принять в работу", "Решить", "Передать", "Спросить автора", "Объединить с…"]
    assert card.metadata == {"event_type": "voc_outbox",
                             "event_payload": {"dedupe_key": card.metadata["event_payload"][
                                 "dedupe_key"]}}


def test_each_person_is_answered_in_their_own_language(workspace: Workspace):
    # users.info says one speaks Russian and the other English; neither is in the file.
    russian = workspace.user(NEW_RU).say("жалоба Курьер опоздал на три часа")
    assert "Спасибо! Жалоба VOC-1 передана в отдел «Logistics»." in russian
    english = workspace.user(NEW_EN).say("praise The courier was very polite")
    assert "Thank you! Praise VOC-2 went to Logistics." in english
    # users.info is asked once per person, not per request.
    workspace.user(NEW_EN).say("idea Deliver on Sundays too")
    assert len([c for c in workspace.slack.calls_of("users.info") if c["user"] == NEW_EN]) == 1


def test_a_redelivered_command_stores_nothing_new(workspace: Workspace):
    kate = workspace.user("U0SALES1")
    body = kate.command_body("complaint The courier was late again")
    first = kate.send(body, "application/x-www-form-urlencoded")
    again = kate.send(body, "application/x-www-form-urlencoded",
                      headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert "VOC-1 went to Logistics" in first.text
    assert "VOC-1 was already recorded: nothing new was created." in again.text
    assert len(workspace.signals()) == 1
    workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    assert len(workspace.slack.in_channel("C0LOGISTICS")) == 1


def test_user_text_cannot_mention_or_link_anyone(workspace: Workspace):
    kate = workspace.user("U0SALES1")
    answer = kate.say("complaint <!channel> the courier & <@U0CEO> said <https://x.io|click>")
    assert "<!channel>" not in answer and "&lt;!channel&gt;" in answer
    card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    sent = card.plain + card.text
    assert "<!channel>" not in sent and "<@U0CEO>" not in sent and "<https://" not in sent
    assert "&lt;!channel&gt; the courier &amp; &lt;@U0CEO&gt; said &lt;https://x.io|click&gt;" \
        in card.plain
    # ...while the stored text is exactly what was typed.
    assert workspace.signals()[0].text.startswith("<!channel> the courier & <@U0CEO>")


def test_bad_input_is_refused_in_the_answer(workspace: Workspace):
    kate = workspace.user("U0SALES1")
    assert "“rant” is not a kind of signal: use complaint, praise or idea." in kate.say(
        "rant the courier")
    assert "The text is empty: write what the customer said." in kate.say("complaint   ")
    assert workspace.signals() == []


def test_the_form_shows_field_errors_inline_then_stores(workspace: Workspace):
    kate = workspace.user("U0SALES1")
    assert kate.command("").status_code == 200  # bare /voc: the form opens
    view = workspace.slack.wait_for_view(kate.last_trigger or "")
    assert view["callback_id"] == "voc_capture"
    assert [b["block_id"] for b in view["blocks"]] == [
        "kind", "text", "customer", "score", "department", "anonymous", "files"]

    refused = kate.submit(view, {"kind": "complaint", "text": "   ", "score": "eleven"})
    assert refused.json() == {"response_action": "errors", "errors": {
        "text": "The text is empty: write what the customer said.",
        "score": "A score is a whole number from 0 to 10; “eleven” is not."}}
    assert workspace.signals() == []

    accepted = kate.submit(view, {"kind": "idea", "text": "Let customers pick a delivery slot",
                                  "customer": "ACME Ltd", "score": "7",
                                  "anonymous": ["yes"]})
    assert accepted.status_code == 200 and not accepted.content  # the form closes
    reply = workspace.slack.wait_for_message("D" + kate.id, "VOC-1")
    assert "Thank you! Idea VOC-1 went to Logistics." in reply.plain
    card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    assert "ACME Ltd" in card.plain and "7/10" in card.plain
    assert "анонимно" in card.plain and "Kate Brown" not in card.plain

    # Submitting the same form twice (a double click on Submit) stores nothing new.
    kate.submit(view, {"kind": "idea", "text": "Let customers pick a delivery slot"})
    workspace.slack.wait_for_message("D" + kate.id, "VOC-1 was already recorded")
    assert len(workspace.signals()) == 1


def test_form_errors_come_in_the_persons_language(workspace: Workspace):
    petr = workspace.user(NEW_RU)
    petr.command("")
    view = workspace.slack.wait_for_view(petr.last_trigger or "")
    assert view["blocks"][0]["element"]["options"][0]["text"]["text"] == "Жалоба"
    refused = petr.submit(view, {"kind": "complaint", "text": "курьер", "score": "11"})
    assert refused.json()["errors"] == {
        "score": "Оценка — целое число от 0 до 10, а «11» — нет."}


def test_the_message_shortcut_prefills_the_form_with_the_message_and_its_link(
        workspace: Workspace):
    kate = workspace.user("U0SALES1")
    kate.shortcut("C0SALES", "Customer: the courier was late twice this week",
                  ts="1699999999.000100")
    view = workspace.slack.wait_for_view(kate.last_trigger or "")
    text_block = next(b for b in view["blocks"] if b["block_id"] == "text")
    assert text_block["element"]["initial_value"] == (
        "Customer: the courier was late twice this week")
    department = next(b for b in view["blocks"] if b["block_id"] == "department")
    assert department["element"]["initial_option"]["value"] == "logistics"  # the suggestion

    kate.submit(view, {"kind": "complaint", "text": text_block["element"]["initial_value"]})
    reply = workspace.slack.wait_for_message("D" + kate.id, "VOC-1")
    assert "matched: courier, late" in reply.plain  # the suggestion kept its reason
    signal = workspace.signals()[0]
    assert signal.source_link == "https://northwind.slack.com/archives/C0SALES/p1699999999000100"
    card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    assert "archives/C0SALES/p1699999999000100" in card.plain


def test_the_reporter_changes_the_department_before_it_is_acknowledged(
        workspace: Workspace):
    kate = workspace.user("U0SALES1")
    answer = kate.command("complaint The courier was late").json()
    first_card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")

    kate.press_in(answer["blocks"], "Change department")
    view = workspace.slack.wait_for_view(kate.last_trigger or "")
    options = [o["value"] for o in view["blocks"][0]["element"]["options"]]
    assert "logistics" not in options and "product" in options
    done = kate.last_response_url or ""
    kate.submit(view, {"department": "product"})
    confirmation = workspace.slack.wait_for_response(SlackUser.token_of(done), "VOC-1")
    assert "VOC-1 now goes to Product." in str(confirmation)

    workspace.slack.wait_for_message("C0PRODUCT", "VOC-1")
    moved = workspace.slack.wait_for_edit(first_card, "Product")
    assert moved.buttons() == []  # the old card keeps no buttons
    assert workspace.signals()[0].status == "routed"


def test_the_help_lists_the_commands(workspace: Workspace):
    help_text = workspace.user("U0SALES1").say("help")
    assert "/voc complaint|praise|idea TEXT" in help_text and "Report to VoC" in help_text
