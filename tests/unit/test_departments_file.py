"""The departments file: validation that points at file, line and field; sync to the database."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.core.service import Draft, VocService
from bot.core.shared.business_hours import BusinessHours
from bot.core.shared.company import Company, DepartmentSpec, PersonSpec
from bot.core.shared.domain import Status
from bot.core.shared.errors import Forbidden, NotFound
from bot.departments import DepartmentsFileError, load_company, parse_company
from bot.sync import sync_company
from storage.db import Database
from storage.models import Department
from tests.conftest import EXAMPLE_COMPANY, FakeClock

SOURCE = "acme.toml"
SMALL_COMPANY = """\
[company]
timezone = "Europe/Moscow"
locale = "en"
triage = "cco"
digest = "mon 09:00"

[[department]]
slug = "cco"
name = "CCO office"
heads = ["slack:U0CCOHEAD"]
slack_channel = "C0CCO"

[[department]]
slug = "logistics"
name = "Logistics"
heads = ["slack:U0LOGHEAD", "telegram:1001"]
members = ["slack:U0LOG1"]
slack_channel = "C0LOGISTICS"
telegram_chat = -1001001
suppliers = ["cco"]
"""
EXTRA_DEPARTMENT = """
[[department]]
slug = "logistics"
name = "Logistics again"
slack_channel = "C0LOG2"
"""


# -- helpers ---------------------------------------------------------------------------------
def edit(text: str, old: str, new: str) -> str:
    """`text` with the one occurrence of `old` replaced."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the `occurrence`-th `needle`."""
    found = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return found[occurrence - 1]


def problems_of(text: str) -> DepartmentsFileError:
    with pytest.raises(DepartmentsFileError) as caught:
        parse_company(text, source=SOURCE)
    return caught.value


def example_text() -> str:
    return EXAMPLE_COMPANY.read_text(encoding="utf-8")


def without_marketing(text: str) -> str:
    """The example file with the marketing department (and sales' rating of it) removed."""
    text = edit(text, '"it", "marketing"]', '"it"]')
    return re.sub(r'\[\[department\]\]\nslug = "marketing".*?(?=\n\[\[|\Z)', "", text,
                  flags=re.DOTALL)


def company_from(text: str) -> Company:
    return parse_company(text, source="departments.toml")


def active_slugs(service: VocService) -> list[str]:
    return [d.slug for d in service.departments()]


# -- the example and a valid file ------------------------------------------------------------
def test_example_file_is_valid() -> None:
    company = load_company(EXAMPLE_COMPANY)

    assert company.source == str(EXAMPLE_COMPANY)
    assert (company.timezone, company.locale, company.triage) == ("Europe/Moscow", "ru", "cco")
    assert [d.slug for d in company.departments] == [
        "cco", "sales", "support", "logistics", "finance", "it", "product", "marketing"]
    logistics = company.department("logistics")
    assert logistics is not None
    assert logistics.heads == ("slack:U0LOGHEAD", "telegram:1001")
    assert logistics.addresses == {"slack": {"slack_channel": "C0LOGISTICS"},
                                   "telegram": {"telegram_chat": -1001001}}
    assert logistics.ack_sla_hours == 24
    assert logistics.suppliers == ("it", "finance")
    assert company.admins == ("slack:U0ADMIN",)


def test_small_valid_file_parses() -> None:
    company = parse_company(SMALL_COMPANY, source=SOURCE)

    assert [d.slug for d in company.departments] == ["cco", "logistics"]
    assert company.department("cco") is not None
    assert company.department("cco").addresses == {  # type: ignore[union-attr]
        "slack": {"slack_channel": "C0CCO"}}


# -- one problem each: file, line and field named -------------------------------------------
@pytest.mark.parametrize(("old", "new", "needle", "field", "says"), [
    pytest.param('suppliers = ["cco"]', 'suppliers = ["cco", "warehouse"]', "suppliers",
                 "suppliers", "unknown supplier 'warehouse'", id="unknown supplier"),
    pytest.param('members = ["slack:U0LOG1"]', 'members = ["slak:U1"]', "members",
                 "members", "slak:U1", id="malformed identity"),
    pytest.param('heads = ["slack:U0CCOHEAD"]', 'heads = ["telegram:-5"]', "telegram:-5",
                 "heads", "telegram:-5", id="negative telegram id"),
    pytest.param('triage = "cco"', 'triage = "triage-team"', "triage", "triage",
                 "unknown triage department 'triage-team'", id="unknown triage"),
    pytest.param('slack_channel = "C0LOGISTICS"', 'slack_chanel = "C0LOGISTICS"',
                 "slack_chanel", "slack_chanel", "unknown field", id="typo in field name"),
    pytest.param('timezone = "Europe/Moscow"', 'timezone = "Mars/Olympus_Mons"', "timezone",
                 "timezone", "Mars/Olympus_Mons", id="bad timezone"),
    pytest.param('digest = "mon 09:00"', 'digest = "monday 9am"', "digest", "digest",
                 "monday 9am", id="bad digest"),
    pytest.param('digest = "mon 09:00"', 'digest = "mon 25:00"', "digest", "digest",
                 "mon 25:00", id="digest hour out of range"),
    pytest.param('telegram_chat = -1001001', 'telegram_chat = "-1001001"', "telegram_chat",
                 "telegram_chat", "integer", id="chat id as a string"),
    pytest.param('locale = "en"', 'locale = "fr"', "locale", "locale", "'fr'",
                 id="unsupported locale"),
])
def test_problem_names_file_line_and_field(
        old: str, new: str, needle: str, field: str, says: str) -> None:
    text = edit(SMALL_COMPANY, old, new)

    error = problems_of(text)

    assert len(error.problems) == 1, str(error)
    message = str(error)
    assert message.startswith(f"{SOURCE}:{line_of(text, needle)}: ")
    assert f"field '{field}'" in message
    assert says in message


def test_duplicate_slug_points_at_the_second_definition() -> None:
    text = SMALL_COMPANY + EXTRA_DEPARTMENT

    error = problems_of(text)

    message = str(error)
    second = line_of(text, 'slug = "logistics"', occurrence=2)
    first_table = line_of(text, "[[department]]", occurrence=2)
    assert message.startswith(f"{SOURCE}:{second}: department 'logistics': field 'slug': ")
    assert "duplicate" in message and f"line {first_table}" in message


def test_department_without_channel_or_chat_is_refused() -> None:
    text = edit(SMALL_COMPANY, 'slack_channel = "C0CCO"\n', "")

    error = problems_of(text)

    message = str(error)
    assert message.startswith(f"{SOURCE}:{line_of(text, '[[department]]')}: department 'cco'")
    assert "slack_channel" in message and "telegram_chat" in message


def test_invalid_toml_names_file_and_line() -> None:
    text = edit(SMALL_COMPANY, 'name = "Logistics"', 'name = "Logistics')

    error = problems_of(text)

    message = str(error)
    assert message.startswith(SOURCE)
    assert "TOML" in message
    assert f"line {line_of(text, 'name = ' + chr(34) + 'Logistics')}" in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "departments.toml"

    with pytest.raises(DepartmentsFileError) as caught:
        load_company(missing)

    assert str(missing) in str(caught.value)
    assert "not found" in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    text = SMALL_COMPANY
    for old, new in [('timezone = "Europe/Moscow"', 'timezone = "Moscow"'),
                     ('heads = ["slack:U0CCOHEAD"]', 'heads = ["slak:U1"]'),
                     ('slack_channel = "C0LOGISTICS"', 'slack_chanel = "C0LOGISTICS"'),
                     ('suppliers = ["cco"]', 'suppliers = ["warehouse"]')]:
        text = edit(text, old, new)

    error = problems_of(text)

    located = sorted((p.line, p.field) for p in error.problems)
    assert located == sorted([
        (line_of(text, "timezone"), "timezone"), (line_of(text, "slak:U1"), "heads"),
        (line_of(text, "slack_chanel"), "slack_chanel"),
        (line_of(text, "suppliers"), "suppliers")])
    assert len(str(error).splitlines()) == 4


def test_lines_stay_right_after_an_invalid_department() -> None:
    text = edit(SMALL_COMPANY, 'name = "CCO office"\n', "")  # cco is now invalid
    text = edit(text, 'suppliers = ["cco"]', 'suppliers = ["warehouse"]')

    error = problems_of(text)

    supplier_problem = next(p for p in error.problems if p.field == "suppliers")
    assert supplier_problem.line == line_of(text, "suppliers")


# -- the exact words, as the hand-written checks said them ------------------------------------
HELP = "expected slack:<user id, like U0123ABC> or telegram:<numeric user id>"
At = str | tuple[str, int]  # a needle, or a needle and its occurrence


def line_at(text: str, at: At) -> int:
    return line_of(text, at) if isinstance(at, str) else line_of(text, *at)


@pytest.mark.parametrize(("old", "new", "at", "says"), [
    pytest.param('slug = "logistics"', 'slug = "Logistics!"', "Logistics!",
                 "department 'Logistics!': field 'slug': slug 'Logistics!' must be lowercase "
                 "letters, digits, '-' or '_'", id="slug format"),
    pytest.param('slug = "logistics"\n', "", ("[[department]]", 2),
                 "field 'slug': is required", id="slug missing"),
    pytest.param('name = "Logistics"', 'name = " "', 'name = " "',
                 "department 'logistics': field 'name': must be a non-empty string",
                 id="blank name"),
    pytest.param('suppliers = ["cco"]', 'suppliers = "cco"', "suppliers",
                 "department 'logistics': field 'suppliers': must be a list of strings",
                 id="suppliers not a list"),
    pytest.param('suppliers = ["cco"]', 'suppliers = ["logistics"]', "suppliers",
                 "department 'logistics': field 'suppliers': a department cannot be its own "
                 "supplier", id="own supplier"),
    pytest.param('suppliers = ["cco"]', 'suppliers = ["cco"]\nack_sla_hours = 0', "ack_sla",
                 "department 'logistics': field 'ack_sla_hours': must be a number of business "
                 "hours between 0 and 2160", id="sla zero"),
    pytest.param('suppliers = ["cco"]', 'suppliers = ["cco"]\nack_sla_hours = true', "ack_sla",
                 "department 'logistics': field 'ack_sla_hours': must be a number of business "
                 "hours between 0 and 2160", id="sla not a number"),
    pytest.param('slack_channel = "C0CCO"', 'slack_channel = "C0CCO"\ntelegram_topic = 5',
                 "telegram_topic", "department 'cco': field 'telegram_topic': must be a "
                 "positive forum topic id, with telegram_chat set", id="topic without chat"),
    pytest.param('members = ["slack:U0LOG1"]', 'members = ["slack:U0LOG1"]\ntelegram_topic = -1',
                 "telegram_topic", "department 'logistics': field 'telegram_topic': must be a "
                 "positive forum topic id, with telegram_chat set", id="negative topic"),
    pytest.param('heads = ["slack:U0CCOHEAD"]', 'heads = ["slack:U0CCOHEAD"]\nmembers = '
                 '["slack:U0LOG1"]', ("members", 2),
                 "department 'logistics': field 'members': slack:U0LOG1 is already a member "
                 "of 'cco'", id="member of two departments"),
    pytest.param('digest = "mon 09:00"', 'digest = "mon 09:00"\npulse = "yearly"', "pulse",
                 "field 'pulse': unknown pulse cadence 'yearly' (use off, weekly, monthly, "
                 "quarterly)", id="pulse cadence"),
    pytest.param('digest = "mon 09:00"', 'digest = "mon 09:00"\nbusiness_hours = "18:00-09:00"',
                 "business_hours", "field 'business_hours': business hours '18:00-09:00' must "
                 "close later the same day; windows crossing midnight are not supported",
                 id="business hours across midnight"),
    pytest.param('digest = "mon 09:00"', 'digest = "mon 09:00"\nholidays = ["2026-13-01"]',
                 "[company]", "field 'business_hours': holiday '2026-13-01' is not a valid "
                 "date like '2026-12-31'", id="bad holiday"),
    pytest.param('digest = "mon 09:00"', 'digest = "mon 09:00"\nbusiness_days = []',
                 "[company]", "field 'business_hours': business days () must be a non-empty "
                 "list like ['mon', 'fri']", id="no business days"),
    pytest.param('digest = "mon 09:00"', 'digest = "mon 09:00"\nleadership = ["slack:u1"]',
                 "leadership", f"field 'leadership': malformed identity 'slack:u1': {HELP}",
                 id="leadership identity"),
    pytest.param('triage = "cco"\n', "", "[company]", "field 'triage': is required",
                 id="triage missing"),
    pytest.param('timezone = "Europe/Moscow"', 'timezone = "Europe"', "timezone",
                 "field 'timezone': unknown timezone 'Europe' (use an IANA name like "
                 "Europe/Moscow)", id="timezone that is a directory of zones"),
])
def test_message_reads_exactly_as_before(old: str, new: str, at: At, says: str) -> None:
    text = edit(SMALL_COMPANY, old, new)

    assert str(problems_of(text)) == f"{SOURCE}:{line_at(text, at)}: {says}"


@pytest.mark.parametrize(("person", "at", "says"), [
    pytest.param('name = "Olga"\nidentities = []', "identities",
                 "field 'identities': must list at least one identity", id="no identity"),
    pytest.param('name = "Olga"\nlocale = "ru"', "[[person]]",
                 "field 'identities': must list at least one identity", id="identities missing"),
    pytest.param('name = "Olga"\nidentities = ["slack:U0LOG1"]\nlocale = "fr"', 'locale = "fr"',
                 "field 'locale': unsupported locale 'fr'", id="unsupported locale"),
    pytest.param('identities = ["slack:U0LOG1"]', "[[person]]", "field 'name': is required",
                 id="name missing"),
    pytest.param('name = "Olga"\nidentities = ["slack:U0LOG1"]\nemail = "olga@acme.test"',
                 "email", "field 'email': unknown field (allowed: identities, locale, name)",
                 id="unknown field"),
    pytest.param('name = "A"\nidentities = ["slack:U0LOG1"]\n\n[[person]]\nname = "B"\n'
                 'identities = ["slack:U0LOG1"]', ('identities = ["slack:U0LOG1"]', 2),
                 "field 'identities': slack:U0LOG1 already belongs to 'A'",
                 id="identity of two people"),
])
def test_person_message_reads_exactly_as_before(person: str, at: At, says: str) -> None:
    text = f"{SMALL_COMPANY}\n[[person]]\n{person}\n"

    assert str(problems_of(text)) == f"{SOURCE}:{line_at(text, at)}: {says}"


@pytest.mark.parametrize(("text", "says"), [
    pytest.param(SMALL_COMPANY + "\n[team]\nlead = 1\n", [f"{SOURCE}: unknown table [team]"],
                 id="unknown table"),
    pytest.param('department = 5\n[company]\ntriage = "cco"\n', [
        f"{SOURCE}: [[department]] must be an array of tables",
        f"{SOURCE}:3: field 'triage': unknown triage department 'cco'"], id="not an array"),
    pytest.param('department = [1]\n[company]\ntriage = "cco"\n', [
        f"{SOURCE}: [[department]] must be a table",
        f"{SOURCE}:3: field 'triage': unknown triage department 'cco'"], id="not a table"),
    pytest.param('[[department]]\nslug = "cco"\nname = "CCO"\nslack_channel = "C0CCO"\n', [
        f"{SOURCE}: the [company] table is missing", f"{SOURCE}: field 'triage': is required"],
        id="no company"),
])
def test_file_level_problems(text: str, says: list[str]) -> None:
    assert str(problems_of(text)).splitlines() == says


def test_department_with_an_unusable_slug_is_named_by_its_position() -> None:
    text = edit(SMALL_COMPANY, 'slug = "logistics"', "slug = 5")
    text = edit(text, 'name = "Logistics"', 'name = ""')

    slug_line, name_line = line_of(text, "slug = 5"), line_of(text, 'name = ""')

    assert str(problems_of(text)).splitlines() == [
        f"{SOURCE}:{slug_line}: field 'slug': must be a non-empty string",
        f"{SOURCE}:{name_line}: department '#2': field 'name': must be a non-empty string",
    ]


def test_department_with_a_malformed_slug_still_counts_for_the_other_checks() -> None:
    text = edit(SMALL_COMPANY, 'slug = "logistics"', 'slug = "Logistics!"')
    text = edit(text, 'slack_channel = "C0CCO"', 'slack_channel = "C0CCO"\n'
                'suppliers = ["Logistics!"]')

    error = problems_of(text)

    assert [(p.department, p.field) for p in error.problems] == [("Logistics!", "slug")]


def test_every_problem_of_an_incomplete_department_is_reported() -> None:
    text = edit(SMALL_COMPANY, 'name = "Logistics"\n', "")
    text = edit(text, 'suppliers = ["cco"]', 'suppliers = "cco"')

    error = problems_of(text)

    assert sorted((p.field, p.message) for p in error.problems) == [
        ("name", "is required"), ("suppliers", "must be a list of strings")]


@pytest.mark.parametrize(("setting", "says"), [
    pytest.param('leadership_slack_channel = ["C0LEAD"]', "must be a non-empty string",
                 id="channel not a string"),
    pytest.param('leadership_telegram_chat = "-1001000"',
                 "must be a Telegram chat id (an integer such as -1001001)",
                 id="chat not an integer"),
])
def test_leadership_destinations_are_checked(setting: str, says: str) -> None:
    """They used to be dropped silently when mistyped; now they are refused like the rest."""
    text = edit(SMALL_COMPANY, 'digest = "mon 09:00"', f'digest = "mon 09:00"\n{setting}')
    field = setting.split(" ")[0]

    assert str(problems_of(text)) == f"{SOURCE}:{line_of(text, field)}: field {field!r}: {says}"


def test_overrides_replace_the_file_and_are_checked_where_the_file_sets_them() -> None:
    text = edit(SMALL_COMPANY, 'timezone = "Europe/Moscow"', "timezone = 7")

    company = parse_company(text, source=SOURCE, timezone="UTC", locale="ru")
    with pytest.raises(DepartmentsFileError) as caught:
        parse_company(SMALL_COMPANY, source=SOURCE, timezone="Mars/Olympus_Mons")

    assert (company.timezone, company.locale) == ("UTC", "ru")
    assert str(caught.value) == (
        f"{SOURCE}:{line_of(SMALL_COMPANY, 'timezone')}: field 'timezone': unknown timezone "
        "'Mars/Olympus_Mons' (use an IANA name like Europe/Moscow)")


def test_empty_settings_mean_their_defaults() -> None:
    text = SMALL_COMPANY
    for name in ("timezone", "locale", "digest"):
        text = re.sub(rf'{name} = ".*"', f'{name} = ""', text)
    text = edit(text, 'digest = ""', 'digest = ""\npulse = ""\nbusiness_hours = ""')

    company = parse_company(text, source=SOURCE)

    assert (company.timezone, company.locale, company.digest, company.pulse) == (
        "UTC", "en", "mon 09:00", "monthly")
    assert company.business_hours == BusinessHours.parse("UTC")


def test_valid_tables_become_the_cores_specs() -> None:
    text = SMALL_COMPANY + '\n[[person]]\nname = "Olga"\nidentities = ["slack:U0LOGHEAD"]\n'

    company = parse_company(text, source=SOURCE)

    assert company.department("logistics") == DepartmentSpec(
        slug="logistics", name="Logistics", heads=("slack:U0LOGHEAD", "telegram:1001"),
        members=("slack:U0LOG1",), addresses={"slack": {"slack_channel": "C0LOGISTICS"},
                                              "telegram": {"telegram_chat": -1001001}},
        ack_sla_hours=24.0, suppliers=("cco",))
    assert company.people == (PersonSpec(name="Olga", identities=("slack:U0LOGHEAD",)),)
    assert company.business_hours == BusinessHours.parse("Europe/Moscow")


# -- sync ------------------------------------------------------------------------------------
def test_first_sync_adds_everything_and_a_second_changes_nothing(
        db: Database, company: Company, clock: FakeClock) -> None:
    first = sync_company(db, company, now=clock())
    second = sync_company(db, company, now=clock.advance(hours=1))

    assert first.changed and len(first.added) == 8 and first.people_added > 0
    assert second.changed is False
    assert second.summary() == "departments: up to date, nothing changed"


def test_changed_sla_is_synced_and_used_for_new_reports(
        service: VocService, db: Database, company: Company, clock: FakeClock) -> None:
    text = edit(example_text(), 'telegram_chat = -1001001\nack_sla_hours = 24',
                'telegram_chat = -1001001\nack_sla_hours = 8')

    report = sync_company(db, company_from(text), now=clock())

    assert report.updated == ["logistics"]
    signal = service.capture("slack:U0LOG1", Draft("complaint", "The courier was late")).signal
    assert signal.department.ack_sla_hours == 8
    assert signal.ack_due_at == clock() + timedelta(hours=8)  # Tue 10:00 -> 18:00 same day


def test_removed_department_is_archived_and_keeps_its_signals(
        service: VocService, db: Database, clock: FakeClock) -> None:
    ref = service.capture("slack:U0SALES1", Draft("idea", "Newsletter about new sofas",
                                                  department="marketing")).signal.ref
    smaller = company_from(without_marketing(example_text()))

    report = sync_company(db, smaller, now=clock.advance(hours=1))

    assert report.archived == ["marketing"]
    after = VocService(db, smaller, clock=clock)
    assert "marketing" not in active_slugs(after)
    assert len(active_slugs(after)) == 7
    with db.read() as session:
        row = session.exec(select(Department).where(Department.slug == "marketing")).one()
    assert row.archived_at == clock()
    kept = after.show("slack:U0SALES1", ref)
    assert kept.department.slug == "marketing"
    assert kept.text == "Newsletter about new sofas"
    with pytest.raises(NotFound, match="Known:"):
        after.capture("slack:U0SALES1", Draft("idea", "More newsletters",
                                              department="marketing"))
    with pytest.raises(NotFound):
        after.queue("slack:U0ADMIN", "marketing")
    # Syncing the same smaller file again changes nothing.
    assert sync_company(db, smaller, now=clock()).changed is False


def test_department_that_comes_back_is_restored(
        service: VocService, db: Database, company: Company, clock: FakeClock) -> None:
    sync_company(db, company_from(without_marketing(example_text())), now=clock())

    report = sync_company(db, company, now=clock.advance(hours=1))

    assert report.restored == ["marketing"]
    assert "marketing" in active_slugs(service)
    signal = service.capture("slack:U0SALES1", Draft("idea", "Better promo codes",
                                                     department="marketing")).signal
    assert signal.department.slug == "marketing"


def test_person_table_makes_two_accounts_one_person(service: VocService, db: Database) -> None:
    on_slack = service.person("slack:U0LOGHEAD")
    on_telegram = service.person("telegram:1001")

    assert on_slack is not None and on_telegram is not None
    assert on_slack.id == on_telegram.id
    assert on_slack.display_name == "Olga Petrova"
    assert on_slack.identities == ("slack:U0LOGHEAD", "telegram:1001")
    assert on_slack.heads == ("logistics",)
    ref = service.capture("slack:U0LOG1", Draft("complaint", "Courier late")).signal.ref
    service.acknowledge("telegram:1001", ref)
    resolved = service.resolve("slack:U0LOGHEAD", ref, "Done")
    assert [e.actor for e in resolved.history[-2:]] == ["Olga Petrova", "Olga Petrova"]


def test_linking_an_account_that_already_reported_keeps_its_reports(
        service: VocService, db: Database, clock: FakeClock) -> None:
    ref = service.capture("telegram:5555", Draft("complaint", "Courier late")).signal.ref
    text = edit(example_text(), 'identities = ["slack:U0LOG1"]',
                'identities = ["slack:U0LOG1", "telegram:5555"]')
    sync_company(db, company_from(text), now=clock())
    service.resolve("slack:U0LOGHEAD", ref, "Done")

    assert [s.ref for s in service.mine("slack:U0LOG1")] == [ref]
    assert service.rate("telegram:5555", ref, 9).rating == 9


def test_removing_a_head_takes_away_the_right_to_acknowledge(
        service: VocService, db: Database, clock: FakeClock) -> None:
    ref = service.capture("slack:U0LOG1", Draft("complaint", "Courier late")).signal.ref
    text = edit(example_text(), 'heads = ["slack:U0LOGHEAD", "telegram:1001"]',
                'heads = ["slack:U0SALES1"]')

    report = sync_company(db, company_from(text), now=clock())

    assert "heads" in report.updated
    olga = service.person("telegram:1001")
    assert olga is not None and olga.heads == ()
    for identity in ("slack:U0LOGHEAD", "telegram:1001"):
        with pytest.raises(Forbidden):
            service.acknowledge(identity, ref)
    assert service.acknowledge("slack:U0SALES1", ref).status == Status.ACKNOWLEDGED
