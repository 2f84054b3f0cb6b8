"""Slack, end to end: the department acts on its card, the reporter hears back, App Home.

Olga Petrova heads Logistics and reads Russian; Kate Brown (Sales) reports in English; Ivan
Kuznetsov is a Logistics member without the right to act on cards.
"""

from __future__ import annotations

from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    Message,
    SlackUser,
    Workspace,
    block_texts,
    slack_workspace,
)

KATE, OLGA, IVAN = "U0SALES1", "U0LOGHEAD", "U0LOG1"


def report(workspace: Workspace, text: str = "The courier was 3 hours late") -> Message:
    """Kate reports a complaint; return its card in Logistics."""
    assert "went to Logistics" in workspace.user(KATE).say(f"complaint {text}")
    ref = f"VOC-{len(workspace.signals())}"
    return workspace.slack.wait_for_message("C0LOGISTICS", ref)


def answer_to(user: SlackUser, containing: str = "") -> str:
    """What the app sent to the response_url of the user's last press."""
    response = user.slack.wait_for_response(SlackUser.token_of(user.last_response_url or ""),
                                            containing)
    assert response.get("response_type") == "ephemeral"
    assert response.get("replace_original") is False
    return "\n".join([response.get("text", ""), *block_texts(response.get("blocks", []))])


def test_the_whole_loop_in_slack(workspace: Workspace):
    slack = workspace.slack
    kate, olga = workspace.user(KATE), workspace.user(OLGA)
    card = report(workspace)
    stale = card.copy()  # what Olga's screen still shows when she clicks twice

    # Kate is not a head of Logistics: refused, only she sees it, nothing changes.
    kate.press(card, "Принять в работу")
    assert "Only the heads of Logistics (or an admin) can act on VOC-1." in answer_to(kate)
    assert workspace.signals()[0].status == "routed"

    # Olga acknowledges: she is told, the card is updated in place, Kate gets a DM.
    olga.press(card, "Принять в работу")
    assert "Вы приняли VOC-1 в работу." in answer_to(olga, "VOC-1")
    acknowledged = slack.wait_for_edit(card, "Olga Petrova")
    assert [b["text"]["text"] for b in acknowledged.buttons()] == [
        "Решить", "Передать", "Спросить автора", "Объединить с…"]
    note = slack.wait_for_message("D" + KATE, "acknowledged")
    assert "Your Complaint VOC-1 was acknowledged by Olga Petrova (Logistics)." in note.plain

    # A double click (the stale card still shows the button): refused, nothing twice.
    olga.press(stale, "Принять в работу")
    assert "Обращение VOC-1 уже принято в работу." in answer_to(olga, "VOC-1")
    assert workspace.signals()[0].status == "acknowledged"
    assert len([m for m in slack.dm(KATE) if "acknowledged" in m.plain]) == 1

    # Resolve asks for a note; an empty one is refused inline, in Olga's language.
    olga.press(acknowledged, "Решить")
    form = slack.wait_for_view(olga.last_trigger or "")
    assert form["callback_id"] == "voc_note"
    assert olga.submit(form, {"note": "   "}).json() == {"response_action": "errors", "errors": {
        "note": "Нужен комментарий: напишите, что было сделано."}}
    assert olga.submit(form, {"note": "Called the customer; a new sofa comes tomorrow"}
                       ).status_code == 200
    resolved = slack.wait_for_edit(card, "Called the customer")
    assert resolved.buttons() == []
    note = slack.wait_for_message("D" + KATE, "resolved")
    assert "Your Complaint VOC-1 was resolved by Olga Petrova (Logistics)." in note.plain
    assert "Called the customer; a new sofa comes tomorrow" in note.plain
    assert [b["text"]["text"] for b in note.buttons()] == [
        *[str(v) for v in range(11)], "Not resolved"]

    # Kate rates the handling once; a second press is refused.
    kate.press(note, "9")
    assert "Thank you for rating how VOC-1 was handled." in answer_to(kate)
    kate.press(note, "9")
    assert "You have already rated VOC-1." in answer_to(kate)
    slack.wait_for_edit(card, "9/10")


def test_reassign_needs_a_department_and_a_reason(workspace: Workspace):
    slack = workspace.slack
    olga = workspace.user(OLGA)
    card = report(workspace, "The courier dropped the parcel and the fabric tore")

    olga.press(card, "Передать")
    form = slack.wait_for_view(olga.last_trigger or "")
    assert [b["block_id"] for b in form["blocks"]] == ["department", "note"]
    assert "logistics" not in [o["value"] for o in form["blocks"][0]["element"]["options"]]
    assert olga.submit(form, {"department": "product", "note": " "}).json() == {
        "response_action": "errors", "errors": {"note": "Нужна причина: напишите, почему."}}
    assert workspace.signals()[0].status == "routed"

    olga.submit(form, {"department": "product", "note": "Fabric quality is Product's"})
    slack.wait_for_message("C0PRODUCT", "VOC-1")
    moved = slack.wait_for_edit(card, "Product")
    assert moved.buttons() == []
    note = slack.wait_for_message("D" + KATE, "Product")
    assert "Your Complaint VOC-1 was passed to Product by Olga Petrova." in note.plain
    assert "Fabric quality is Product's" in note.plain


def test_someone_without_the_right_gets_no_form(workspace: Workspace):
    ivan = workspace.user(IVAN)  # a Logistics member, not a head
    card = report(workspace)
    opened = len(workspace.slack.calls_of("views.open"))
    ivan.press(card, "Решить")
    assert "Действия с VOC-1 доступны только руководителям" in answer_to(ivan)
    ivan.press(card, "Передать")
    assert "доступны только руководителям" in answer_to(ivan, "VOC-1")
    assert len(workspace.slack.calls_of("views.open")) == opened
    assert workspace.signals()[0].status == "routed"


def test_not_resolved_reopens_with_a_reason(workspace: Workspace):
    slack = workspace.slack
    kate, olga = workspace.user(KATE), workspace.user(OLGA)
    card = report(workspace)
    olga.press(card, "Решить")
    olga.submit(slack.wait_for_view(olga.last_trigger or ""), {"note": "Refunded delivery"})
    note = slack.wait_for_message("D" + KATE, "resolved")

    olga.press(note, "Not resolved")  # somebody else's button: refused, no form
    assert "Это может сделать только автор обращения VOC-1." in answer_to(olga, "VOC-1")
    kate.press(note, "Not resolved")
    form = slack.wait_for_view(kate.last_trigger or "")
    kate.submit(form, {"note": "The customer still has no sofa"})
    assert "VOC-1 is open again; Logistics has been told." in answer_to(kate, "open again")
    notice = slack.wait_for_message("C0LOGISTICS", "The customer still has no sofa")
    assert "VOC-1" in notice.plain
    assert workspace.signals()[0].status == "routed"
    # The reopened signal gets a card with buttons again.
    assert any(m.buttons() for m in slack.in_channel("C0LOGISTICS") if "VOC-1" in m.plain)


def test_app_home_shows_my_reports_and_my_queue_and_refreshes(workspace: Workspace):
    slack = workspace.slack
    kate, olga = workspace.user(KATE), workspace.user(OLGA)
    report(workspace)

    assert kate.open_home().status_code == 200
    home = slack.wait(lambda: slack.homes.get(KATE), what="Kate's home")
    assert "VOC-1 · Logistics · waiting for acknowledgement" in "\n".join(
        block_texts(home["blocks"]))

    olga.open_home()
    home = slack.wait(lambda: slack.homes.get(OLGA), what="Olga's home")
    texts = "\n".join(block_texts(home["blocks"]))
    assert "Logistics — открыто: 1, просрочено: 0" in texts
    olga.press_home("Принять VOC-1")
    # No response_url on App Home: the confirmation comes as a DM; the home is republished.
    slack.wait_for_message("D" + OLGA, "VOC-1")
    slack.wait(lambda: slack.home_publishes.get(OLGA, 0) >= 2, what="home refreshed")
    texts = "\n".join(block_texts(slack.homes[OLGA]["blocks"]))
    assert "Принять VOC-1" not in texts
    assert workspace.signals()[0].status == "acknowledged"

    # Slack re-sends the event when it did not hear back in time: publishing again is harmless.
    before = slack.home_publishes[KATE]
    kate.open_home(retry=1)
    slack.wait(lambda: slack.home_publishes[KATE] > before, what="home republished")
    assert len(workspace.signals()) == 1


def test_mine_and_queue_answer_in_a_message(workspace: Workspace):
    kate, olga = workspace.user(KATE), workspace.user(OLGA)
    report(workspace)
    assert "VOC-1 · Logistics · waiting for acknowledgement" in kate.say("mine")
    queue = olga.command("queue").json()
    assert "Logistics" in queue["text"] and "VOC-1" in queue["text"]
    labels = [e["text"]["text"] for b in queue["blocks"] if b["type"] == "actions"
              for e in b["elements"]]
    assert labels == ["Принять VOC-1", "Решить VOC-1"]
    olga.press_in(queue["blocks"], "Принять VOC-1")  # buttons on an ephemeral answer work
    assert "VOC-1" in answer_to(olga, "VOC-1")
    assert "Only members and heads of Product can see its signals." in kate.say(
        "queue product")
    assert "VOC-1" in kate.say("show VOC-1")
    assert "Recorded a customer score of 9/10." in kate.say("score 9 great service")


def test_digest_for_leadership_and_refused_to_others(workspace: Workspace):
    report(workspace)
    assert "Only leadership and admins" in workspace.user(KATE).say("digest") or \
        "⚠" in workspace.user(KATE).say("digest")
    ceo = workspace.user("U0CEO").command("digest")
    assert ceo.status_code == 200 and "⚠" not in ceo.json()["text"]
