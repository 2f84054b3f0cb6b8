"""Routing by meaning: how a department's own words (its profile and keywords) weigh a report."""

from __future__ import annotations

import numpy as np

from bot.core.meaning import CaseIndex, unit
from bot.core.meaning.routing import Departments, MeaningRouter


def test_much_of_a_departments_vocabulary_outweighs_one_word_and_its_translations() -> None:
    # Keywords come in three languages: "returns" sits near one word of finance written three
    # ways (refund, возврат денег, 退款), and near half of logistics' twelve words. The report
    # goes to logistics: one word and its translations are not a department.
    report = np.eye(24)[0]
    finance = np.vstack([report] * 3 + [np.eye(24)[n] for n in range(1, 10)])
    logistics = np.vstack([0.5 * report + np.sqrt(0.75) * np.eye(24)[n] for n in range(10, 22)])
    departments = Departments.build(
        ["finance", "logistics"], unit(np.eye(24)[22:24] + 0.2 * report),
        np.vstack([finance, logistics]), [0] * 12 + [1] * 12)
    scores = departments.scores(unit(report)[0])
    assert scores[1] > scores[0]
    router = MeaningRouter(departments, CaseIndex.build([], 0), "cco", weight=1.0, gate=0.05)
    verdict = router.suggest(unit(report)[0])
    assert verdict is not None and verdict.slug == "logistics" and verdict.case_id is None
