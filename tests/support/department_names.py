"""The example company with the logistics department named in Russian and Chinese
(`[department.names]`), for the tests of names in each reader's language."""

from __future__ import annotations

from tests.conftest import EXAMPLE_COMPANY

NAMES = '[department.names]\nru = "Логистика"\nzh = "物流"\n'


def with_names(names: str = NAMES) -> str:
    """The example file with `names` as the logistics department's sub-table."""
    text = EXAMPLE_COMPANY.read_text(encoding="utf-8")
    start = text.index('slug = "logistics"')
    end = text.index("[[", start)
    return text[:end] + names + "\n" + text[end:]
