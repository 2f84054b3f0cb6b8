"""The terminal chat and `voc digest` with the bundled language layer, as a person runs them:
a report that names no department's keyword is routed by what it means, and the digest groups
one problem written in three languages into one theme."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.reporting.periods import Week
from bot.language.bundled import installed
from tests.support.voc_process import voc

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not installed(), reason="the bundled model is not installed")]
BUNDLED = "language layer: bundled model universal-sentence-encoder-multilingual-3"
# No keyword of any department (its words alone send it to triage); it means the website.
KEYWORD_FREE = "I cannot get into my profile on your web shop"
# One problem, three languages, no word in common.
CHARGED_TWICE = ("The money was taken from her card twice for one order",
                 "С карты дважды списали деньги за один заказ",
                 "同一个订单从她卡上扣了两次钱")


def test_the_terminal_chat_routes_by_meaning_and_the_digest_groups_by_meaning(
        migrated: Path) -> None:
    typed = [f"/voc complaint {KEYWORD_FREE}", *(f"/voc complaint {t}" for t in CHARGED_TWICE),
             "/quit"]
    chat = voc(migrated, "console", "--as", "Kate", stdin="\n".join(typed) + "\n",
               VOC_LANGUAGE="auto", VOC_LOCALE="en")
    assert chat.returncode == 0, chat.stderr
    assert BUNDLED in chat.stderr  # the start-up line, as `voc serve` logs it
    assert "Complaint VOC-1 went to IT." in chat.stdout, chat.stdout
    assert "Why this department: what the text says matches this department's work" in (
        chat.stdout)

    week = Week.containing(datetime.now(UTC), "Europe/Moscow")  # the example company's
    digest = voc(migrated, "digest", "--week", str(week), VOC_LANGUAGE="auto", VOC_LOCALE="en")
    assert digest.returncode == 0, digest.stderr
    assert BUNDLED in digest.stderr
    theme = re.search(r"“([^”]+)”: 3 complaints", digest.stdout)
    assert theme and theme.group(1) in CHARGED_TWICE, digest.stdout
