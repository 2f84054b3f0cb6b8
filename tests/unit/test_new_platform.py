"""A third platform is one registration: with it, the departments file takes its address fields,
validates them, and the sync, the database and the cards' destinations carry them, with no
other file changed. Microsoft Teams here is registered in this process only."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from bot.core.service import Draft, VocService
from bot.core.shared.platforms import (
    PLATFORMS,
    AddressField,
    Platform,
    department_destinations,
    leadership_destinations,
)
from bot.departments import parse_company
from bot.sync import sync_company
from storage.db import Database
from storage.models import Department, Outbox
from tests.conftest import FakeClock
from tests.unit.test_departments_file import problems_of

TEAMS_CHANNEL = re.compile(r"19:[A-Za-z0-9_-]+@thread\.tacv2")
NOT_A_CHANNEL = "must be a Teams channel id, like 19:abc@thread.tacv2"


def _teams_channel(channel: str, earlier: object) -> str | None:
    return None if TEAMS_CHANNEL.fullmatch(channel) else NOT_A_CHANNEL


TEAMS = Platform(
    "teams", r"[0-9a-f-]{36}", "teams:<AAD object id>", "teams_bot_token", ("teams_bot_token",),
    (AddressField("teams_channel", str, NOT_A_CHANNEL, _teams_channel,
                  leadership="leadership_teams_channel"),))

FILE = """\
[company]
triage = "support"
leadership_teams_channel = "19:leaders@thread.tacv2"

[[department]]
slug = "support"
name = "Support"
heads = ["slack:U0SUPHEAD"]
teams_channel = "19:support@thread.tacv2"

[[department]]
slug = "sales"
name = "Sales"
members = ["slack:U0SALES1"]
slack_channel = "C0SALES"
"""


@pytest.fixture
def teams(monkeypatch: pytest.MonkeyPatch) -> Platform:
    """Teams registered for the test, after Slack and Telegram."""
    monkeypatch.setitem(PLATFORMS, TEAMS.name, TEAMS)
    return TEAMS


def problems(text: str) -> list[str]:
    return str(problems_of(text)).splitlines()


def test_a_department_on_the_new_platform_validates_syncs_and_gets_its_cards_there(
        teams: Platform, db: Database, clock: FakeClock) -> None:
    company = parse_company(FILE, source="acme.toml")
    support = company.department("support")
    assert support is not None
    assert department_destinations(support) == ["teams:19:support@thread.tacv2"]
    assert leadership_destinations(company) == ["teams:19:leaders@thread.tacv2"]

    assert sync_company(db, company, now=clock()).added == ["support", "sales"]
    with db.read() as session:
        row = session.exec(select(Department).where(Department.slug == "support")).one()
    assert row.addresses == {"teams": {"teams_channel": "19:support@thread.tacv2"}}
    assert sync_company(db, company, now=clock()).changed is False

    service = VocService(db, company, clock=clock)
    service.capture("slack:U0SALES1", Draft("complaint", "The invoice is wrong",
                                            department="support"))
    with db.read() as session:
        cards = session.exec(select(Outbox).where(Outbox.operation == "send",
                                                  Outbox.destination.startswith("teams:"))).all()
    assert [(c.destination, c.platform) for c in cards] == [
        ("teams:19:support@thread.tacv2", "teams")]


def test_the_new_platforms_fields_are_refused_like_the_others(teams: Platform) -> None:
    wrong = FILE.replace('teams_channel = "19:support@thread.tacv2"', 'teams_channel = "general"')
    assert problems(wrong)[0] == (
        f"acme.toml:9: department 'support': field 'teams_channel': {NOT_A_CHANNEL}")

    not_text = FILE.replace('leadership_teams_channel = "19:leaders@thread.tacv2"',
                            "leadership_teams_channel = 7")
    assert problems(not_text) == [
        f"acme.toml:3: field 'leadership_teams_channel': {NOT_A_CHANNEL}"]

    nowhere = FILE.replace('teams_channel = "19:support@thread.tacv2"\n', "")
    assert problems(nowhere) == [
        "acme.toml:5: department 'support': has no slack_channel and no telegram_chat and no "
        "teams_channel: its cards could not be posted"]


def test_without_its_registration_the_field_is_unknown() -> None:
    said = problems(FILE)
    assert said[0].startswith("acme.toml:3: field 'leadership_teams_channel': unknown field "
                              "(allowed: ")
    assert "leadership_slack_channel, leadership_telegram_chat" in said[0]
    assert said[1].startswith("acme.toml:9: department 'support': field 'teams_channel': "
                              "unknown field")
