""""Me too" and themes across scripts: vectors less what every report of their script and of
their department has in common, on a synthetic space where each script has its own offset and
each department its topic (as the bundled model's space has), so a problem's reports in two
languages sit further apart than two problems of one department in one language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.core.capture.similar import CENTRED_THRESHOLDS, CROSS_THRESHOLDS, cross_likeness
from bot.core.meaning import Vectors, unit
from bot.core.meaning.maths import MIN_CENTRED, Centres
from bot.core.meaning.models import USE_E5, parts_of
from bot.core.reporting.themes import THEME_THRESHOLDS, Complaint, by_meaning
from bot.core.service import Draft, VocService
from bot.core.shared.company import Company
from bot.sync import sync_company
from storage.db import Database
from tests.conftest import FakeClock

MODEL = "universal-sentence-encoder-multilingual-3"
JOINED = USE_E5
SCRIPTS = {"latin": "Paid once, charged twice", "cyrillic": "Оплатили один раз, списали дважды",
           "han": "付了一次，扣了两次"}
FINANCE, IT = 5, 6  # department ids
KATE = "slack:U0SALES1"


class Space:
    """A report is its script's offset + its department's topic + its problem + a little noise."""

    def __init__(self, seed: int = 7, dims: int = 512, topic: float = 1.1) -> None:
        self.random = np.random.default_rng(seed)
        self.dims = dims
        self.offsets = {s: 1.3 * self._direction() for s in SCRIPTS}
        self.topics = {d: topic * self._direction() for d in (FINANCE, IT)}

    def _direction(self) -> np.ndarray:
        found = self.random.normal(size=self.dims)
        return np.asarray(found / np.linalg.norm(found))

    def problem(self) -> np.ndarray:
        return self._direction()

    def report(self, script: str, department: int, problem: np.ndarray) -> np.ndarray:
        noise = 0.15 * self.random.normal(size=self.dims) / np.sqrt(self.dims)
        return unit(self.offsets[script] + self.topics[department] + problem + noise)[0]


def sample(space: Space, per_script: int) -> tuple[np.ndarray, list[str], list[int]]:
    """Recent one-off reports of both departments in every script."""
    rows, scripts, departments = [], [], []
    for script in SCRIPTS:
        for n in range(per_script):
            department = FINANCE if n % 2 else IT
            rows.append(space.report(script, department, space.problem()))
            scripts.append(script)
            departments.append(department)
    return np.vstack(rows), scripts, departments


def test_a_problem_meets_its_translation_before_another_problem_of_its_department() -> None:
    space = Space()
    double_debit, slow_refund = space.problem(), space.problem()
    english = space.report("latin", FINANCE, double_debit)
    chinese = space.report("han", FINANCE, double_debit)
    other = space.report("latin", FINANCE, slow_refund)
    other_chinese = space.report("han", FINANCE, slow_refund)
    # As the plain vectors have it: the other problem in the same language is nearer.
    assert float(english @ other) > float(english @ chinese)
    centres = Centres.of(*sample(space, 2 * MIN_CENTRED))
    assert centres.knows(["latin", "han"], FINANCE)
    rows = centres.apply(np.vstack([english, chinese, other, other_chinese]),
                         ["latin", "han", "latin", "han"], FINANCE)
    same, apart = float(rows[0] @ rows[1]), float(rows[0] @ rows[2])
    assert same > 0.6 > 0.2 > apart and float(rows[0] @ rows[3]) < 0.2

    # "Me too" offers the translation and not the other problem written in another script.
    threshold = CENTRED_THRESHOLDS[MODEL][("han", "latin")]
    pair = (english, chinese)
    offered = cross_likeness(SCRIPTS["latin"], SCRIPTS["han"], pair, MODEL, centres, FINANCE)
    refused = cross_likeness(SCRIPTS["latin"], SCRIPTS["han"], (english, other_chinese), MODEL,
                             centres, FINANCE)
    assert offered is not None and offered >= 0 and abs(offered - (same - threshold)) < 1e-5
    assert refused is not None and refused < 0


def test_without_enough_reports_for_a_centre_the_plain_cosine_decides() -> None:
    space = Space()
    problem = space.problem()
    english, russian = (space.report(s, FINANCE, problem) for s in ("latin", "cyrillic"))
    plain = float(english @ russian) - CROSS_THRESHOLDS[MODEL]
    few = Centres.of(*sample(space, MIN_CENTRED - 1))  # a new bot: too few reports yet
    assert not few.knows(["latin", "cyrillic"], FINANCE)
    for centres, department in ((None, FINANCE), (few, FINANCE),
                                (Centres.of(*sample(space, 2 * MIN_CENTRED)), 99)):
        found = cross_likeness(SCRIPTS["latin"], SCRIPTS["cyrillic"], (english, russian), MODEL,
                               centres, department)
        assert found is not None and abs(found - plain) < 1e-6
    assert cross_likeness(SCRIPTS["latin"], SCRIPTS["han"], (english, russian),
                          "another-model") is None  # no threshold measured: words decide


def test_a_joined_model_judges_by_the_mean_of_its_two_models_centred() -> None:
    # Two models' spaces: the second's script offsets are small, so the centres take little
    # from it; centred, each part is brought back to its share and neither outweighs the other.
    first, second = Space(seed=3), Space(seed=5, dims=384)
    second.offsets = {s: 0.3 * v for s, v in second.offsets.items()}
    problems = [first.problem() for _ in range(2)], [second.problem() for _ in range(2)]

    def joined(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.hstack([a, b]) / np.sqrt(2)

    rows = [(first.report(s, FINANCE, problems[0][p]), second.report(s, FINANCE, problems[1][p]))
            for s, p in (("latin", 0), ("han", 0), ("han", 1))]
    samples = sample(first, 2 * MIN_CENTRED), sample(second, 2 * MIN_CENTRED)
    each = [Centres.of(*found) for found in samples]
    both = Centres.of(np.hstack([samples[0][0], samples[1][0]]) / np.sqrt(2), samples[0][1],
                      samples[0][2], parts_of(JOINED))
    threshold = CENTRED_THRESHOLDS[JOINED][("han", "latin")]
    for other in (1, 2):  # its translation, then another problem in the other script
        mean = sum(float(np.prod(centres.apply(np.vstack([rows[0][n], rows[other][n]]),
                                               ["latin", "han"], FINANCE), axis=0).sum())
                   for n, centres in enumerate(each)) / 2
        found = cross_likeness(SCRIPTS["latin"], SCRIPTS["han"],
                               (joined(*rows[0]), joined(*rows[other])), JOINED, both, FINANCE)
        assert found is not None and abs(found - (mean - threshold)) < 1e-5
        assert (found >= 0) == (other == 1)


def test_each_theme_is_one_problem_in_all_three_languages() -> None:
    space = Space(seed=11, topic=0.4)  # themes take away scripts only: departments share less
    start = datetime(2026, 11, 16, 9, tzinfo=UTC)
    problems = [(space.problem(), FINANCE if n % 2 else IT) for n in range(10)]
    week: list[Complaint] = []
    vectors: dict[int, np.ndarray] = {}
    for number, (problem, department) in enumerate(problems):
        for script, text in SCRIPTS.items():
            for _ in range(3):
                complaint = Complaint(len(week) + 1, f"{text} {number}", department,
                                      start + timedelta(minutes=len(week)))
                week.append(complaint)
                vectors[complaint.id] = space.report(script, department, problem)
    plain = [[float(vectors[a.id] @ vectors[b.id]) for b in week] for a in week]
    assert plain[0][3] < plain[0][9]  # plain: its translation is further than another problem
    themes = by_meaning(week, [], vectors, THEME_THRESHOLDS[MODEL])
    assert len(themes) == 5  # the top five of ten problems, each grown from nothing
    for theme in themes:
        problem = (theme.example - 1) // 9
        assert theme.count == 9 and theme.departments == (problems[problem][1],)


class Chosen:
    """A stand-in for the bundled model whose vector for each text the test chooses."""

    name = MODEL

    def __init__(self) -> None:
        self.table: dict[str, np.ndarray] = {}

    def status(self) -> str:
        return "chosen vectors"

    async def embed(self, texts: Sequence[str]) -> Vectors | None:
        return self.embed_now(texts)

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        return np.vstack([self.table[text] for text in texts]).astype(np.float32)


def test_the_offer_takes_the_centres_from_the_stored_reports(
        db: Database, company: Company, clock: FakeClock) -> None:
    space = Space(seed=3, topic=2.0)  # the department's topic weighs more than in the test above
    model = Chosen()
    sync_company(db, company, now=clock())
    service = VocService(db, company, clock=clock, embedder=model)  # type: ignore[arg-type]
    fillers = {"latin": "One-off complaint number {}", "han": "第{}号投诉"}
    for script, text in fillers.items():
        for n in range(MIN_CENTRED + 2):  # enough of the department's reports for its centre
            model.table[text.format(n)] = space.report(script, FINANCE, space.problem())
    double_debit, slow_refund = space.problem(), space.problem()
    english, refund, debit, again = ("Paid once, charged twice", "退款一个月还没到账",
                                     "付了一次，扣了两次", "Her card was debited two times")
    model.table |= {english: space.report("latin", FINANCE, double_debit),
                    refund: space.report("han", FINANCE, slow_refund),
                    debit: space.report("han", FINANCE, double_debit),
                    again: space.report("latin", FINANCE, double_debit)}
    # Plain cosines would offer the slow refund as the double debit: they share the topic.
    assert float(model.table[english] @ model.table[refund]) >= CROSS_THRESHOLDS[MODEL]

    # One batch: the offers after it read the centres (kept for minutes) of all of them.
    service.capture_many([(KATE, Draft("complaint", text, department="finance")) for text in
                          [t for t in model.table if t not in (english, refund, debit, again)]
                          + [refund]])
    assert service.capture(KATE, Draft("complaint", english, department="finance")
                           ).signal.similar is None
    case = service.capture(KATE, Draft("complaint", debit, department="finance")).signal
    offered = service.capture(KATE, Draft("complaint", again, department="finance")).signal
    assert offered.similar is not None and offered.similar[0] == case.ref
