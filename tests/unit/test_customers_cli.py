"""`voc customers import | list | merge | split` on both databases, as an admin runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app as voc
from tests.conftest import EXAMPLE_COMPANY

runner = CliRunner()

CUSTOMERS = """name,aliases,owner,segment
Pied Piper Inc.,PP;ООО «Пайд Пайпер»,slack:U0LOGHEAD,enterprise
Hooli,Hooli XYZ,slack:U0KAM,enterprise
Initech,,telegram:1001,smb
,Globex,,
"""


def invoke(*args: str, db_url: str, **settings: str):
    env = {"DATABASE_URL": db_url, "VOC_DEPARTMENTS": str(EXAMPLE_COMPANY),
           "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": "", "VOC_LOCALE": "en", **settings}
    return runner.invoke(voc, ["customers", *args], env=env)


def test_import_reports_bad_rows_by_number_and_keeps_the_good_ones(
        db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")

    result = invoke("import", str(path), db_url=db_url)

    assert result.exit_code == 1
    assert ("row 3: the owner “slack:U0KAM” is not a person in the departments file"
            in result.output)
    assert "row 5: the name is missing" in result.output
    assert ("accounts created: 2, updated: 0, unchanged: 0; bad rows: 2"
            in result.output)
    listed = invoke("list", db_url=db_url)
    assert listed.exit_code == 0
    assert listed.stdout.splitlines() == [
        "#2\tInitech\ttelegram:1001\tsmb\tsignals: 0\t",
        "#1\tPied Piper Inc.\tslack:U0LOGHEAD\tenterprise\tsignals: 0\tООО «Пайд Пайпер»; PP",
    ]

    path.write_text(CUSTOMERS.replace("slack:U0KAM", "slack:U0SALES1"), encoding="utf-8")
    fixed = invoke("import", str(path), db_url=db_url)
    assert "accounts created: 1, updated: 0, unchanged: 2; bad rows: 1" in fixed.output


def test_import_speaks_the_company_language(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("name;aliases;owner;segment\nHooli;;slack:U0KAM;\n", encoding="utf-8")

    result = invoke("import", str(path), db_url=db_url, VOC_LOCALE="ru")

    assert result.exit_code == 1
    assert "строка 2:" in result.output and "slack:U0KAM" in result.output
    assert "файле отделов" in result.output


def test_merge_and_split_from_the_command_line(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("name,aliases\nHooli,Hooli XYZ\nPied Piper,\nPiedPiper Russia,\n",
                    encoding="utf-8")
    assert invoke("import", str(path), db_url=db_url).exit_code == 0

    merged = invoke("merge", "PiedPiper Russia", "#2", db_url=db_url)
    assert merged.exit_code == 0, merged.output
    assert "#3 PiedPiper Russia merged into #2 Pied Piper: names moved: 1" in merged.output
    split = invoke("split", "hooli", "Hooli XYZ", db_url=db_url)
    assert split.exit_code == 0, split.output
    assert "#4 Hooli XYZ split off #1 Hooli: signals moved: 0" in split.output

    again = invoke("merge", "#3", "Hooli", db_url=db_url)
    assert again.exit_code == 2
    assert "Account #3 was merged into #2 Pied Piper." in again.output
    unknown = invoke("split", "Initech", "Initrode", db_url=db_url)
    assert unknown.exit_code == 2 and "No account is called “Initech”." in unknown.output


def test_a_file_that_cannot_be_read_is_refused_in_one_line(db_url: str, tmp_path: Path) -> None:
    no_name = tmp_path / "no-name.csv"
    no_name.write_text("customer,owner\nHooli,\n", encoding="utf-8")

    for path, said in ((no_name, "no-name.csv: row 1 must name the columns "
                                 "name,aliases,owner,segment (missing: name)"),
                       (tmp_path / "absent.csv", "absent.csv: no such file.")):
        result = invoke("import", str(path), db_url=db_url)
        assert result.exit_code == 2 and said in result.output, result.output
    assert invoke("list", db_url=db_url).stdout == ""


def test_a_customer_list_saved_by_a_russian_excel_is_read(db_url: str, tmp_path: Path) -> None:
    """Excel on a Russian Windows saves "CSV" in Windows-1251, with semicolons."""
    listed = tmp_path / "customers.csv"
    listed.write_bytes("name;aliases;owner;segment\nООО «Пайд Пайпер»;Пайд Пайпер;;опт\n"
                       .encode("cp1251"))
    result = invoke("import", str(listed), db_url=db_url)
    assert result.exit_code == 0, result.output
    assert "ООО «Пайд Пайпер»" in invoke("list", db_url=db_url).stdout
