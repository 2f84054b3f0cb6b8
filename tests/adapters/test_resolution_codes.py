"""Resolution codes: with `[company] resolution_codes`, Resolve
asks why it happened beside the note, in Slack (a select in the form), Telegram (buttons, then
the note) and the terminal (numbered choices); the code is stored on the case, the weekly
digest shows the top codes per department and company-wide, the export has the column.

End to end against the fake Slack and Telegram servers, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from openpyxl import load_workbook

from bot.core.service import Draft, VocService
from bot.core.shared.company import Company
from bot.core.shared.errors import VocError
from bot.departments import DepartmentsFileError, parse_company
from bot.sync import sync_company
from jobs.excel import export_workbook
from storage.db import Database
from tests.adapters.test_telegram_flows import ANNA, LOGISTICS, OLGA, running_bot
from tests.support.dialog import TerminalDialog
from tests.support.fake_slack import running_workspace
from tests.support.workbook import HEADERS, SHEETS

CODES = ("process", "training", "product defect", "partner", "one-off")
LABELS = {"ru": {"process": "Процесс", "training": "Обучение", "product defect": "Дефект товара",
                 "partner": "Партнёр", "one-off": "Единичный случай"}}
KATE, OLGA_SLACK = "slack:U0SALES1", "slack:U0LOGHEAD"


@pytest.fixture
def coded(company: Company) -> Company:
    return replace(company, resolution_codes=CODES, resolution_labels=LABELS)


@pytest.fixture
def coded_service(db: Database, coded: Company, clock: object) -> VocService:
    sync_company(db, coded, now=clock())  # type: ignore[operator]
    return VocService(db, coded, clock=clock)  # type: ignore[arg-type]


def report(service: VocService, text: str, department: str = "logistics") -> str:
    return service.capture(KATE, Draft("complaint", text, department=department)).signal.ref


def test_slack_asks_for_the_code_in_the_resolve_form_and_the_digest_counts_them(
        db: Database, coded: Company) -> None:
    with running_workspace(db, coded) as workspace:
        service, slack = workspace.service, workspace.slack
        olga = workspace.user("U0LOGHEAD")
        for n, code in enumerate(("partner", "partner", "process"), 1):
            report(service, f"The courier was late, case {n}")
            card = slack.wait_for_message("C0LOGISTICS", f"VOC-{n}")
            olga.press(card, "Решить")
            form = slack.wait_for_view(olga.last_trigger or "")
            select = next(b for b in form["blocks"] if b["block_id"] == "code")
            assert [o["text"]["text"] for o in select["element"]["options"]] == [
                "Процесс", "Обучение", "Дефект товара", "Партнёр", "Единичный случай"]
            if n == 1:  # no code: refused under its field, the form stays open
                refused = olga.submit(form, {"note": "New courier"}).json()
                assert refused["response_action"] == "errors"
                assert "Выберите причину: Процесс, Обучение" in refused["errors"]["code"]
                assert workspace.signals()[0].status == "routed"
            olga.submit(form, {"code": code, "note": "Spoke with the courier company"})
            slack.wait(lambda n=n: workspace.signals()[n - 1].status == "resolved")
        assert [s.resolution_code for s in workspace.signals()] == [
            "partner", "partner", "process"]
        card = slack.wait_for_message("C0LOGISTICS", "Партнёр")
        assert "Код причины:* Партнёр" in card.plain

        week = service.clock().strftime("%G-W%V")
        digest = service.digest_preview("slack:U0CEO", week).plain_text()
        assert ("Причины обращений за неделю (коды решений): Партнёр 2, Процесс 1"
                in digest)
        assert "Logistics: Партнёр 2, Процесс 1" in digest
        head = service.digest_preview(OLGA_SLACK, week).plain_text()
        assert "Партнёр 2, Процесс 1" in head

        book = load_workbook(io.BytesIO(export_workbook(service, t=service.translator("en"))))
        rows = list(book.worksheets[SHEETS.index("Signals")].iter_rows(values_only=True))
        column = HEADERS["Signals"].index("Resolution code")
        assert [r[column] for r in rows[1:4]] == ["partner", "partner", "process"]


def test_telegram_offers_the_codes_as_buttons_then_asks_for_the_note(
        db: Database, coded: Company, clock: object) -> None:
    sync_company(db, coded, now=clock())  # type: ignore[operator]
    service = VocService(db, coded, clock=clock)  # type: ignore[arg-type]
    with running_bot(service) as bot:
        bot.say(ANNA, "/complaint Курьер опоздал на три часа")
        card = bot.fake.expect(LOGISTICS, r"VOC-1")
        bot.press(OLGA, card, "Решить")
        picker = bot.fake.expect(LOGISTICS, r"Какова причина VOC-1\?")
        bot.press(OLGA, picker, "Партнёр")
        prompt = bot.fake.expect(LOGISTICS, r"VOC-1 · Что сделано")
        bot.say(OLGA, "Сменили курьерскую службу", chat=LOGISTICS, reply_to=prompt)
        bot.fake.expect(LOGISTICS, r"Вы отметили VOC-1 как решённое")
        bot.fake.wait(lambda: bot.signals()[0].status == "resolved")
        assert bot.signals()[0].resolution_code == "partner"
        bot.fake.expect(ANNA.id, r"Партнёр")  # the reporter's note tells why


def test_the_terminal_asks_by_number_and_again_when_it_is_not_one(
        coded_service: VocService, coded: Company) -> None:
    ref = report(coded_service, "The courier was late")
    chat = TerminalDialog(coded_service, coded, "slack:U0LOGHEAD")
    try:
        chat.expect(r"Olga Petrova> ")
        chat.say("/voc queue")
        chat.expect(rf"\[(\d+)\] Решить {ref}")
        number = chat.output.saw(rf"\[(\d+)\] Решить {ref}")
        assert number is not None
        chat.say(number.group(1))
        chat.expect(r"4\. Партнёр")
        chat.say("9")
        chat.expect(r"«9» — не код причины")
        chat.say("4")
        chat.expect(r"Что сделано")
        chat.say("Changed the courier company")
        chat.expect(rf"Вы отметили {ref} как решённое")
    finally:
        chat.say("/quit")
        chat.close()
    assert coded_service.show(OLGA_SLACK, ref).resolution == "Партнёр"


def test_without_codes_resolve_asks_only_for_the_note(service: VocService) -> None:
    ref = report(service, "The courier was late")
    assert service.resolution_codes() == []
    assert service.resolve(OLGA_SLACK, ref, "Done").resolution is None


def test_a_code_must_be_one_of_the_list(coded_service: VocService) -> None:
    ref = report(coded_service, "The courier was late")
    for typed, says in (("", "Choose what caused it: Процесс, Обучение, Дефект товара, "
                             "Партнёр, Единичный случай."),
                        ("weather", "“weather” is not one of the resolution codes")):
        with pytest.raises(VocError) as caught:
            coded_service.resolve(OLGA_SLACK, ref, "Done", code=typed)
        assert says in caught.value.render(coded_service.translator("en"))
    assert coded_service.show(OLGA_SLACK, ref).status == "routed"
    # The code, its label in any language, or its number all name it.
    assert coded_service.resolve(OLGA_SLACK, ref, "Done", code="Дефект товара"
                                 ).resolution == "Дефект товара"


COMPANY = """[company]
triage = "cco"
{extra}

[[department]]
slug = "cco"
name = "Customer care"
slack_channel = "C0CCO"
"""


@pytest.mark.parametrize(("extra", "says"), [
    ('resolution_codes = ["process", "process"]', "code 'process' is listed twice"),
    ('resolution_codes = [" process"]', "without spaces around it"),
    ('resolution_codes = ["' + "причина" * 4 + '"]', "longer than 40 bytes"),
    ('resolution_codes = ["process"]\n[company.resolution_labels.fr]\nprocess = "Processus"',
     "unsupported locale 'fr'"),
    ('resolution_codes = ["process"]\n[company.resolution_labels.ru]\ntraining = "Обучение"',
     "names 'training', which is not in resolution_codes"),
    ('anonymous_see_askers = "yes"', "must be true or false"),
])
def test_the_departments_file_checks_the_codes(extra: str, says: str) -> None:
    with pytest.raises(DepartmentsFileError) as caught:
        parse_company(COMPANY.format(extra=extra), source="departments.toml")
    assert says in str(caught.value)


def test_valid_codes_and_labels_reach_the_company() -> None:
    company = parse_company(COMPANY.format(extra=(
        'resolution_codes = ["process", "one-off"]\n[company.resolution_labels.ru]\n'
        'process = "Процесс"')), source="departments.toml")
    assert company.resolution_codes == ("process", "one-off")
    assert company.resolution_label("process", "ru") == "Процесс"
    assert company.resolution_label("one-off", "ru") == "one-off"
