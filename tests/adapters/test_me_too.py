""""Me too": a new report that resembles an open case of its
department is offered "Same as VOC-1?"; joining merges it, the case counts its reporters, each
is told when it is acknowledged and resolved and may rate it once; heads merge from a card.

End to end on `voc serve` (Slack events and the Telegram webhook) with the real clients against
the fake servers, on SQLite and PostgreSQL. Ivan (Slack U0LOG1) and Anna (telegram:2001) read
Russian; Olga heads Logistics; cards speak Russian.
"""

from __future__ import annotations

import copy
import io

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.core.capture.similar import similarity, words
from bot.core.service import Draft, VocService
from bot.core.shared.errors import VocError
from jobs.excel import export_workbook
from storage.models import Score
from tests.adapters.test_case_conversation import card_now, ru, webhook
from tests.adapters.test_telegram_flows import ANNA, LOGISTICS, PAVEL
from tests.support.fake_slack import Message, Workspace
from tests.support.fake_telegram import FakeTelegram, button
from tests.support.workbook import SHEETS

IVAN, OLGA, KATE = "U0LOG1", "U0LOGHEAD", "U0SALES1"
OLGA_ID = "slack:U0LOGHEAD"


def slack_buttons(message: Message) -> list[str]:
    return [b["text"]["text"] for b in message.buttons()]


def test_two_reporters_merge_and_both_are_told_at_acknowledge_and_resolve(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, telegram = served
    service, slack = workspace.service, workspace.slack
    ivan = workspace.user(IVAN)
    assert "VOC-1" in ivan.say("complaint Курьер опоздал на три часа и поцарапал диван")
    first = slack.wait_for_message("C0LOGISTICS", "VOC-1")

    # Anna reports the same from Telegram and is offered the open case.
    webhook(workspace, telegram.message(ANNA, "/complaint Курьер опоздал на 3 часа, диван "
                                              "поцарапан"))
    offer = telegram.expect(ANNA.id, r"То же, что VOC-1\? «Курьер опоздал на три часа")
    second_slack = slack.wait_for_message("C0LOGISTICS", "VOC-2")
    second_telegram = telegram.expect(LOGISTICS, r"VOC-2")
    webhook(workspace, telegram.callback(ANNA, offer, button(offer, "Добавить меня к VOC-1")))
    telegram.expect(ANNA.id, r"VOC-2 теперь часть VOC-1")

    # Her report's cards say where it went and lose their buttons; the case counts two.
    merged = card_now(workspace, second_slack, "объединено с VOC-1")
    assert slack_buttons(merged) == []
    edited = telegram.wait(lambda: next(
        (m for m in telegram.sent(LOGISTICS) if m["message_id"] ==
         second_telegram["message_id"] and "объединено с VOC-1" in m["text"]), None))
    assert "reply_markup" not in edited
    card_now(workspace, first, "Сообщили об этом (человек):* 2")
    queue = service.queue("slack:U0LOGHEAD")
    assert [item.ref for item in queue.items] == ["VOC-1"]  # the merged report is no case
    assert queue.items[0].reporters == 2

    # Olga acknowledges and resolves the case once: both reporters hear, each on their app.
    olga = workspace.user(OLGA)
    olga.press(first, "Принять в работу")
    slack.wait_for_message("D" + IVAN, "VOC-1")
    telegram.expect(ANNA.id, r"Жалоба VOC-2 принята в работу[^·]*· Принято[^·]*"
                             r"· Ваше обращение — часть VOC-1")
    olga.press(card_now(workspace, first, "Olga Petrova"), "Решить")
    olga.submit(slack.wait_for_view(olga.last_trigger or ""), {"note": "Новый курьер"})
    ivan_note = slack.wait_for_message("D" + IVAN, "Новый курьер")
    anna_note = telegram.expect(ANNA.id, r"Новый курьер")
    assert "VOC-1" in anna_note["text"]
    assert [s.status for s in workspace.signals()] == ["resolved", "resolved"]

    # Each may rate once, on their own report.
    ivan.press(ivan_note, "9")
    stale = copy.deepcopy(anna_note)  # what her screen shows if the keypad lingers
    webhook(workspace, telegram.callback(ANNA, anna_note, button(anna_note, "7")))
    telegram.expect(ANNA.id, r"VOC-2")
    slack.wait(lambda: len(ratings(service)) == 2, what="two ratings")
    assert sorted(ratings(service)) == [7, 9]
    webhook(workspace, telegram.callback(ANNA, stale, button(stale, "3")))
    assert any("уже оценили VOC-2" in a.get("text", "") for a in telegram.alerts())
    assert sorted(ratings(service)) == [7, 9]


def ratings(service: VocService) -> list[int]:
    with service.db.read() as session:
        return [s.value for s in session.exec(select(Score).where(
            Score.source == "handling").order_by(col(Score.id)))]


def test_a_head_merges_from_the_card_and_bad_targets_are_refused(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, _telegram = served
    service, slack = workspace.service, workspace.slack
    service.capture("slack:U0SALES1", Draft("complaint", "The courier was late",
                                            department="logistics"))
    service.capture("slack:U0SALES1", Draft("complaint", "Payment failed twice",
                                            department="finance"))
    service.capture("slack:U0SALES1", Draft("complaint", "Courier did not call ahead",
                                            department="logistics"))
    card = slack.wait_for_message("C0LOGISTICS", "VOC-3")
    opened = len(slack.calls_of("views.open"))
    workspace.user(IVAN).press(card, ru(service, "Merge into…"))  # not a head: no form
    slack.wait(lambda: any("VOC-3" in str(r) for r in slack.responses.values()),
               what="the refusal")
    assert len(slack.calls_of("views.open")) == opened

    olga = workspace.user(OLGA)
    olga.press(card, ru(service, "Merge into…"))
    form = slack.wait_for_view(olga.last_trigger or "")
    for typed, says in (("VOC-3", "VOC-3 нельзя объединить с самим собой."),
                        ("VOC-2", "VOC-2 относится к отделу Finance"),
                        ("VOC-99", "VOC-99"), ("hello", "«hello»")):
        refused = olga.submit(form, {"note": typed}).json()
        assert refused["response_action"] == "errors", refused
        assert says in refused["errors"]["note"], refused
    assert workspace.signals()[2].merged_into_id is None
    olga.submit(form, {"note": "VOC-1"})
    merged = card_now(workspace, card, "объединено с VOC-1")
    assert slack_buttons(merged) == []
    assert workspace.signals()[2].merged_into_id == 1
    with pytest.raises(VocError):  # acting on the merged report is refused
        service.acknowledge("slack:U0LOGHEAD", "VOC-3")


def test_it_is_new_changes_nothing_and_praise_is_never_offered(service: VocService) -> None:
    kate = "slack:U0SALES1"
    service.capture(kate, Draft("complaint", "The courier was 3 hours late",
                                department="logistics"))
    result = service.capture(kate, Draft("complaint", "Courier was three hours late",
                                         department="logistics"))
    assert result.signal.similar == ("VOC-1", "The courier was 3 hours late")
    kept = service.perform(kate, "notsame", "VOC-2")  # type: ignore[arg-type]
    assert kept.merged_into is None and len(service.queue("slack:U0LOGHEAD").items) == 2
    praise = service.capture(kate, Draft("praise", "The courier was 3 hours late but polite",
                                         department="logistics"))
    assert praise.signal.similar is None
    other = service.capture(kate, Draft("complaint", "The invoice has the wrong company name",
                                        department="logistics"))
    assert other.signal.similar is None
    with pytest.raises(VocError) as caught:  # only the reporter may join their report
        service.join("slack:U0LOGHEAD", "VOC-2", "1")
    assert "Only the person who reported VOC-2" in caught.value.render(service.translator("en"))


def test_the_digest_weighs_a_case_by_its_reporters(service: VocService) -> None:
    kate, ivan = "slack:U0SALES1", "slack:U0LOG1"
    service.capture(kate, Draft("complaint", "Payment failed twice", department="finance",
                                score=1))
    service.capture(kate, Draft("complaint", "The courier was rude", department="logistics"))
    service.capture(ivan, Draft("complaint", "Rude courier again", department="logistics"))
    service.join(ivan, "VOC-3", "VOC-2")
    week = service.clock().strftime("%G-W%V")
    digest = service.digest_preview("slack:U0CEO", week)
    top = digest.footer[digest.footer.index("Главные жалобы:") + 1]
    assert "VOC-2" in top and "Сообщили об этом: 2 чел." in top
    assert not any("VOC-3" in line for line in digest.footer)
    book = load_workbook(io.BytesIO(export_workbook(service, t=service.translator("en"))))
    events = {(r[0], r[2], r[4]) for r in book.worksheets[SHEETS.index("Events")].iter_rows(
        values_only=True)}
    assert ("VOC-3", "merged", "merged into VOC-2") in events
    assert ("VOC-2", "joined", "VOC-3 was merged into this case") in events


@pytest.mark.parametrize(("a", "b", "alike"), [
    ("The courier was 3 hours late", "Courier came three hours late", True),
    ("Курьер опоздал", "Курьеры опаздывают", True),
    ("The courier was late", "The sofa arrived scratched", False),
])
def test_similarity_uses_routings_words(a: str, b: str, alike: bool) -> None:
    assert (similarity(words(a), words(b)) >= 0.5) is alike


def test_a_forged_me_too_button_is_refused_and_joins_nothing(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, telegram = served
    service = workspace.service
    webhook(workspace, telegram.message(ANNA, "/complaint Курьер опоздал на три часа"))
    telegram.expect(ANNA.id, r"VOC-1")
    webhook(workspace, telegram.message(PAVEL, "/complaint The courier threw the parcel "
                                               "over the fence"))
    mine = telegram.expect(PAVEL.id, r"VOC-2 went to Logistics")
    assert "Add me to" not in str(mine.get("reply_markup"))  # nothing alike was offered
    # Pavel crafts the callback data of a button the bot never showed him.
    webhook(workspace, telegram.callback(PAVEL, mine, "metoo|2|1"))
    alert = telegram.wait(lambda: telegram.alerts(), what="the refusal")[-1]
    assert alert["text"] == "“Add me to VOC-1” is not available for VOC-2: it was never offered."
    assert service.show(OLGA_ID, "VOC-2").merged_into is None
    assert service.show(OLGA_ID, "VOC-1").reporters == 1
    assert [e.action for e in service.show(OLGA_ID, "VOC-1").history].count("joined") == 0
