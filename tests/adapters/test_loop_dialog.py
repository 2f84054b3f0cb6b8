"""The loop as dialogs in the terminal chat, in process, on SQLite and PostgreSQL: say this,
expect that. (tests/system/test_console_e2e.py drives the same chat as a real `voc console`.)

The company speaks Russian, so department cards are in Russian; Kate and John read English.
"""

from __future__ import annotations

from tests.support.dialog import TerminalDialog

KATE, JOHN = "slack:U0SALES1", "slack:U0SALESHEAD"


def test_a_report_is_acknowledged_resolved_and_rated(chat: TerminalDialog) -> None:
    chat.say("/voc complaint The sales manager promised a discount and then denied it")
    chat.expect(r"Thank you! Complaint VOC-1 went to Sales\.")
    acknowledge = chat.expect(r"── Sales · slack ──[\s\S]*?\[(\d+)\] Принять в работу").group(1)
    chat.expect(r"Kate Brown> ")

    chat.say(f"/as {JOHN}")
    chat.expect(r"John Carter> ")
    chat.say(acknowledge)
    chat.expect(r"You acknowledged VOC-1\.")
    resolve = chat.expect(r"\(card updated\) ──[\s\S]*?\[(\d+)\] Решить").group(1)
    chat.expect(r"John Carter> ")
    chat.say(resolve)
    chat.expect(r"Resolution note: ")
    chat.say("Honoured the discount and coached the manager")
    chat.expect(r"You resolved VOC-1; the reporter has been told\.")
    rate = chat.expect(r"DM to Kate Brown · slack ──[\s\S]*?\[(\d+)\] 0-10").group(1)
    chat.expect(r"John Carter> ")

    chat.say(f"/as {KATE}")
    chat.expect(r"Kate Brown> ")
    chat.say(rate)
    chat.expect(r"Your rating 0-10: ")
    chat.say("9")
    chat.expect(r"Thank you for rating how VOC-1 was handled\.")
    chat.say("/voc mine")
    chat.expect(r"VOC-1 · Sales · resolved")


def test_someone_without_the_right_is_refused_before_being_asked(chat: TerminalDialog) -> None:
    chat.say("/voc complaint The sales manager was rude on the phone")
    resolve = chat.expect(r"── Sales · slack ──[\s\S]*?\[(\d+)\] Решить").group(1)
    chat.expect(r"Kate Brown> ")
    pressed_at = len(chat.output.text)
    chat.say(resolve)  # Kate heads nothing: refused at once, no note asked for in vain
    chat.expect(r"⚠ Only the heads of Sales \(or an admin\) can act on VOC-1\.")
    chat.expect(r"Kate Brown> ")
    assert "Resolution note" not in chat.output.text[pressed_at:]
    chat.say("/voc show VOC-1")
    chat.expect(r"Status: waiting for acknowledgement")
