"""Training the routing model on the company's history, sharing it, and reporting on it.

The model lives in the database (`routing_model`), so every replica routes with the same one
and a restart keeps it. A running bot looks for a newer model at most every `MODEL_TTL`
seconds (one indexed query), inside the transaction that routes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.core.routing.features import Case
from bot.core.routing.keywords import script_of
from bot.core.routing.learned import Evaluation, LearningRouter, evaluate, split_history
from bot.core.routing.learned import train as fit
from bot.core.routing.model import Model
from bot.core.shared.context import Core
from bot.core.shared.domain import Status
from storage import claims, vectors
from storage import routing_store as store

log = logging.getLogger(__name__)
MODEL_TTL = 60.0  # seconds between looks for a newer model
JOB = "routing-train"


def history_cases(core: Core) -> list[Case]:
    """The cases to learn from, labelled with the department that finally owned each: every
    case someone confirmed (acknowledged or resolved there, chosen by the reporter, moved by a
    head). A suggestion nobody has looked at yet teaches nothing."""
    with core.db.read() as session:
        rows = store.history(session=session)
    return [Case(r.id, r.text, r.slug, r.created_at) for r in rows
            if r.text.strip() and (r.status != Status.ROUTED
                                   or r.routing.get("by") in ("reporter", "head"))]


@dataclass(frozen=True)
class TrainReport:
    """What one training did."""

    cases: int
    model_id: int | None
    seconds: float

    def summary(self) -> str:
        """A line for the CLI and the log."""
        if self.model_id is None:
            return "routing: no confirmed cases yet, routing stays on the keywords"
        return (f"routing: model {self.model_id} trained on {self.cases} cases in "
                f"{self.seconds:.1f} s")


def train(core: Core) -> TrainReport:
    """Train on the whole history now, store the model and use it."""
    started = time.perf_counter()
    cases = history_cases(core)
    model = fit(cases, now=core.clock(), keywords=core.router.keywords)
    if model is None:
        return TrainReport(0, None, time.perf_counter() - started)
    with core.db.write() as session:
        model_id = store.save(session=session, payload=model.to_bytes(), cases=model.cases,
                              now=core.clock())
    _use(core, model, model_id)
    report = TrainReport(model.cases, model_id, time.perf_counter() - started)
    log.info(report.summary())
    return report


def train_once(core: Core, period: str, *, owner: str) -> TrainReport | None:
    """The scheduled training of `period` (a day), claimed so one replica does it; None when
    another replica (or an earlier run) has it. The claim commits before training, so the
    replicas that lose do not train at all."""
    with core.db.write() as session:
        if not claims.claim(session=session, job=JOB, period=period, owner=owner,
                            now=core.clock()):
            return None
    return train(core)


def refresh(core: Core, session: Session, *, force: bool = False) -> None:
    """Pick up a model trained by another replica or process (at most every MODEL_TTL s)."""
    router = core.router
    now = time.monotonic()
    if not force and now - router.checked_at < MODEL_TTL:
        return
    router.checked_at = now
    newest = store.latest_id(session=session)
    if newest is None or newest == router.model_id:
        return
    row = store.load(session=session, model_id=newest)
    if row is None:
        return
    try:
        model = Model.from_bytes(row.payload)
    except (ValueError, KeyError):  # a model of another version: keep routing as before
        log.warning("routing model %s is unreadable by this version; retrain it", newest)
        return
    _use(core, model, newest, aside=True)


def _use(core: Core, model: Model, model_id: int, *, aside: bool = False) -> None:
    """Route with `model` from now on, and relearn the router by meaning: here (training), or
    `aside` in a thread of its own (a model another replica trained, found while routing:
    calibrating takes seconds on a long history and must not hold a capture)."""
    core.router.model, core.router.model_id = model, model_id
    if not core.meaning.on:
        return
    if aside:
        threading.Thread(target=learn_meaning, args=(core,), name="learn-meaning",
                         daemon=True).start()
    else:
        learn_meaning(core)


def learn_meaning(core: Core) -> None:
    """The router by meaning on the history's stored vectors: the newest labelled cases of the
    nearest-case index, calibrated on them judged in order (nothing when the layer is off).
    Called at start-up and with every new routing model."""
    meaning = core.meaning
    if not meaning.on:
        return
    departments = meaning.departments(_profiles(core))
    if departments is None:  # the layer cannot answer now: words decide until the next model
        return
    cases = history_cases(core)[-meaning.cases:]
    with core.db.read() as session:
        found = vectors.read(session=session, model=meaning.model,
                             signal_ids=[c.id for c in cases])
    embedded = [c for c in cases if c.id in found]
    router = meaning.learn(departments, [(c.id, c.label, found[c.id]) for c in embedded],
                           core.company.triage, [script_of(c.text) for c in embedded])
    log.info("routing by meaning: %d labelled cases indexed%s, gate %.3f", len(router.cases),
             "" if router.centres is None else " (centred by script)", router.gate)


async def start_meaning(core: Core) -> None:
    """`learn_meaning` from an event loop: the departments' texts embedded there first (an
    endpoint answers only there), the rest in a worker thread."""
    if core.meaning.on:
        from bot.core.meaning.routing import department_texts  # numpy: only with the layer on

        await core.meaning.prepare([t for texts in department_texts(
            [p[1:] for p in _profiles(core)])[:2] for t in texts])
        await asyncio.to_thread(learn_meaning, core)


def _profiles(core: Core) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(d.slug, d.name, d.description, d.keywords) for d in core.company.departments]


@dataclass(frozen=True)
class RoutingReport:
    """Held-out accuracy of the keywords alone and of the blend, on the newest cases."""

    trained_on: int
    keywords: Evaluation
    blend: Evaluation
    model_id: int | None
    trained_at: datetime | None


def report(core: Core, held_out: float = 0.2) -> RoutingReport:
    """Train on the older part of the history and route its newest `held_out` share."""
    cases = history_cases(core)
    older, newer = split_history(cases, held_out)
    keywords = core.router.keywords
    blended = LearningRouter(keywords, fit(older, keywords=keywords))
    with core.db.read() as session:
        refresh(core, session, force=True)
    current = core.router.model
    return RoutingReport(
        len(older), evaluate(keywords, newer, core.company.triage),
        evaluate(blended, newer, core.company.triage), core.router.model_id,
        current.trained_at if current is not None else None)
