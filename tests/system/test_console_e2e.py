"""The terminal chat, driven end to end as a subprocess reading stdin: the README tour."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.dialog import Dialog
from tests.support.voc_process import voc, voc_env

pytestmark = pytest.mark.slow


def test_the_whole_loop_in_the_terminal(migrated: Path):
    chat = Dialog([sys.executable, "-m", "bot", "console", "--as", "Kate"],
                  env=voc_env(migrated, VOC_LOCALE="en"), cwd=migrated)
    chat.expect(r"You are Kate Brown \(slack:U0SALES1\)")
    chat.expect(r"Kate Brown> ")

    chat.say("/voc complaint The sales manager promised a discount and then denied it")
    chat.expect(r"Thank you! Complaint VOC-1 went to Sales\.")
    chat.expect(r"Why this department: matched: .*(discount|manager)")
    card = chat.expect(r"── Sales · slack ──[\s\S]*?\[(\d+)\] Acknowledge")
    acknowledge = card.group(1)
    chat.expect(r"Kate Brown> ")

    chat.say(acknowledge)  # Kate is not a head of Sales: refused, nothing changes
    chat.expect(r"⚠ Only the heads of Sales \(or an admin\) can act on VOC-1\.")

    chat.say("/as John")
    chat.expect(r"You are John Carter \(slack:U0SALESHEAD\).*head of Sales")
    chat.say("/voc queue")
    chat.expect(r"Sales — open: 1, overdue: 0")
    chat.say(acknowledge)
    chat.expect(r"You acknowledged VOC-1\.")
    chat.expect(r"John Carter> ")
    # The DM and the card edit go to different places and may print in either order.
    assert chat.saw(r"── DM to Kate Brown · slack ──\s+Your Complaint VOC-1 was acknowledged by "
                    r"John Carter \(Sales\)\.")
    card = chat.saw(r"\(card updated\) ──[^─]*?Acknowledged by John Carter[^─]*?"
                    r"\[(\d+)\] Resolve")
    assert card, chat.transcript
    resolve = card.group(1)

    chat.say(resolve)
    chat.expect(r"Resolution note: ")
    chat.say("   ")
    chat.expect(r"⚠ A resolution note is required")
    chat.say(resolve)
    chat.expect(r"Resolution note: ")
    chat.say("Called the customer, honoured the discount, coached the manager")
    chat.expect(r"You resolved VOC-1; the reporter has been told\.")
    chat.expect(r"John Carter> ")
    rate = chat.saw(r"DM to Kate Brown · slack ──[^─]*?was resolved by John Carter[^─]*?"
                    r"\[(\d+)\] 0-10\s+\[(\d+)\] Not resolved")
    assert rate, chat.transcript

    chat.say("/as slack:U0SALES1")
    chat.say(rate.group(1))
    chat.expect(r"Your rating 0-10: ")
    chat.say("11")
    chat.expect(r"⚠ A score is a whole number from 0 to 10; “11” is not\.")
    chat.say(rate.group(1))
    chat.say("9")
    chat.expect(r"Thank you for rating how VOC-1 was handled\.")
    chat.say("/voc mine")
    chat.expect(r"VOC-1 · Sales · resolved")
    chat.say("/quit")
    assert chat.close() == 0


def test_step_by_step_anonymous_report_then_reassign(migrated: Path):
    chat = Dialog([sys.executable, "-m", "bot", "console", "--as", "Kate"],
                  env=voc_env(migrated, VOC_LOCALE="en"), cwd=migrated)
    chat.expect(r"Kate Brown> ")
    chat.say("/voc")
    chat.expect(r"Kind \(complaint, praise, idea\): ")
    chat.say("idea")
    chat.say("Let customers choose a two-hour delivery window")
    chat.say("Blue Sky Hotels")
    chat.say("")
    chat.expect(r"Logistics \(logistics\) \*")  # the suggestion is preselected
    chat.say("")
    chat.say("y")
    chat.expect(r"Idea VOC-1 went to Logistics\.")
    reassign = chat.expect(r"── Logistics · slack ──[\s\S]*?Reported by: anonymous"
                           r"[\s\S]*?\[(\d+)\] Reassign").group(1)
    chat.expect(r"Kate Brown> ")

    chat.say("/as slack:U0ADMIN")  # admins may act on any department
    chat.expect(r"Sam Admin> ")
    chat.say(reassign)
    chat.say("product")
    chat.expect(r"Reason: ")
    chat.say("Delivery windows are a product decision")
    chat.expect(r"VOC-1 now belongs to Product\.")
    chat.expect(r"Sam Admin> ")
    # Both channels change; they may print in either order.
    assert chat.saw(r"── Logistics · slack \(card updated\) ──\s+💡 Idea VOC-1 moved to Product")
    assert chat.saw(r"── Product · slack ──\s+💡 Idea VOC-1 for Product")
    assert chat.saw(r"DM to Kate Brown · slack ──\s+Your Idea VOC-1 was passed to Product")
    assert "Kate Brown, " not in chat.transcript  # the anonymous reporter is never named
    chat.say("/voc show VOC-1")
    chat.expect(r"Reassigned from Logistics to Product by Sam Admin")
    chat.say("/quit")
    assert chat.close() == 0


def test_voc_run_without_tokens_opens_the_terminal_chat(migrated: Path):
    result = voc(migrated, "run", stdin="/voc help\n/quit\n", VOC_DEPARTMENTS="departments.toml",
                 VOC_LOCALE="en")
    assert result.returncode == 0, result.stderr
    assert "using the example company" in result.stderr  # no departments.toml in a new clone
    assert "You are Kate Brown" in result.stdout
    assert "/voc complaint|praise|idea TEXT" in result.stdout


def test_run_refuses_an_out_of_date_schema_and_says_the_fix(tmp_path: Path):
    result = voc(tmp_path, "run", stdin="/quit\n")
    assert result.returncode == 1
    assert "Run `voc db upgrade`" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_person_and_bad_settings_are_clear_errors(migrated: Path):
    result = voc(migrated, "console", "--as", "slak:U1")
    assert result.returncode == 2 and "Unknown person 'slak:U1'" in result.stderr
    result = voc(migrated, "console", SLACK_BOT_TOKEN="changeme")
    assert result.returncode == 2 and "SLACK_BOT_TOKEN" in result.stderr
    assert "changeme" not in result.stderr.replace("placeholder", "")
