"""Reporting: a draft (kind, text, customer, score, department, anonymous) becomes a routed
signal with its cards; a customer's 0-10 score is recorded. Field checks name the field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError

from bot.core.capture import evidence, similar
from bot.core.capture.batch import write_signals
from bot.core.capture.evidence import IncomingFile, KeptFile
from bot.core.presentation.views import CaptureResult, DepartmentView, ScoreView
from bot.core.presentation.visibility import department_view, signal_view_for
from bot.core.routing import blend, training
from bot.core.shared import domain, inputs
from bot.core.shared.context import Core
from bot.core.shared.domain import MAX_CUSTOMER, MAX_DEDUPE_KEY, MAX_LINK, Kind
from bot.core.shared.errors import InvalidInput, NotFound, VocError
from bot.core.shared.i18n import N_
from bot.core.shared.rows import person_of, require_identity
from storage import queries as q
from storage import vectors
from storage.models import Score


@dataclass(frozen=True)
class Draft:
    """A signal as typed by a reporter, not yet validated."""

    kind: str
    text: str
    customer: str | None = None
    score: int | str | None = None
    anonymous: bool = False
    source_link: str | None = None
    department: str | None = None  # a slug; None means "use the suggestion"
    dedupe_key: str | None = None  # the platform event id, so a re-delivery stores nothing new
    files: tuple[IncomingFile, ...] = ()  # evidence: photos, documents (checked on capture)
    album: str | None = None  # the Telegram media group the files came in, if any


class _Refused(ValueError):
    """A field's refusal, carried through pydantic's error collection."""

    def __init__(self, refusal: InvalidInput) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def _field(check: Callable[[Any], Any]) -> Any:
    """A pydantic "before" validator from one of `inputs`' checks."""
    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidInput as refusal:
            raise _Refused(refusal) from None
    return BeforeValidator(validate)


class ParsedDraft(BaseModel):
    """A draft whose every field passed validation, with the reporter's identity. Built by
    `parse_draft`; each field's check is the one refusal people see for it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    actor: str  # checked first, by parse_draft
    kind: Annotated[Kind, _field(lambda v: inputs.parse_kind(str(v)))]
    text: Annotated[str, _field(inputs.signal_text)]
    customer: Annotated[str | None, _field(lambda v: inputs.optional_text(v, MAX_CUSTOMER))]
    score: Annotated[int | None, _field(
        lambda v: None if v in (None, "") else inputs.parse_score(v))]
    link: Annotated[str | None, _field(lambda v: inputs.optional_text(v, MAX_LINK))]
    anonymous: bool
    department: str | None  # the slug the reporter chose, as typed; None: the suggestion
    dedupe_key: Annotated[str | None, _field(
        lambda v: inputs.strip_controls(v or "")[:MAX_DEDUPE_KEY] or None)]
    # The files kept and a refusal for each other one: a refused file never refuses the report.
    files: tuple[KeptFile, ...] = ()
    refused: tuple[InvalidInput, ...] = ()
    album: str | None = None


def _validated(actor: str, draft: Draft) -> ParsedDraft | dict[str, InvalidInput]:
    """The parsed draft, or each field's refusal by field name (the report form's names)."""
    screened = evidence.screen(draft.files) if draft.files else evidence.Screened()
    try:
        return ParsedDraft(actor=actor, kind=draft.kind, text=draft.text,
                           customer=draft.customer, score=draft.score, link=draft.source_link,
                           anonymous=draft.anonymous, department=draft.department,
                           dedupe_key=draft.dedupe_key, files=screened.kept,
                           refused=screened.refused, album=draft.album)
    except ValidationError as invalid:
        problems: dict[str, InvalidInput] = {}
        for error in invalid.errors(include_url=False):
            cause = (error.get("ctx") or {}).get("error")
            name = str(error["loc"][0]) if error["loc"] else "draft"
            problems[name] = (cause.refusal if isinstance(cause, _Refused) else InvalidInput(
                N_("“%(value)s” is not valid here."), value=str(error.get("input"))[:40]
            ).at(name))
        return problems


def parse_draft(actor: str, draft: Draft) -> ParsedDraft:
    """Validate a draft: the first bad field's refusal (in the form's order); nothing is read
    or written."""
    require_identity(actor)
    parsed = _validated(actor, draft)
    if isinstance(parsed, dict):
        raise next(iter(parsed.values()))
    return parsed


def draft_problems(draft: Draft) -> dict[str, InvalidInput]:
    """What capture would refuse in each field of a draft, by field name (changes nothing):
    forms show every problem next to its field at once."""
    parsed = _validated("", draft)  # the form's fields (who reports is checked on capture)
    return parsed if isinstance(parsed, dict) else {}


def check_answer(field: str, value: Any) -> Any:
    """One answer of a step-by-step report, checked as capture will check it (the same
    validator): its parsed value, or the InvalidInput about that field."""
    info = ParsedDraft.model_fields[field]
    checker = _ANSWERS.get(field)
    if checker is None:
        annotated: Any = Annotated[info.annotation, *info.metadata]  # the field as declared
        checker = _ANSWERS[field] = TypeAdapter(annotated)
    try:
        return checker.validate_python(value)
    except ValidationError as invalid:
        cause = (invalid.errors()[0].get("ctx") or {}).get("error")
        if isinstance(cause, _Refused):
            raise cause.refusal from None
        raise InvalidInput(N_("“%(value)s” is not valid here."), value=str(value)[:40]
                           ).at(field) from None


_ANSWERS: dict[str, TypeAdapter[Any]] = {}


def capture_many(core: Core, requests: Sequence[tuple[str, Draft]]
                 ) -> list[CaptureResult | Exception]:
    """Store signals for many reporters in one transaction (group commit); per request, its
    result or why it failed, so one bad request never costs the others theirs."""
    outcomes: list[CaptureResult | Exception | None] = [None] * len(requests)
    parsed: list[tuple[int, ParsedDraft]] = []
    for index, (actor, draft) in enumerate(requests):
        try:
            parsed.append((index, parse_draft(actor, draft)))
        except VocError as error:
            outcomes[index] = error
    drafts = [draft for _, draft in parsed]
    try:
        written = _write(core, drafts) if drafts else []
    except IntegrityError as error:
        # A platform re-delivered an event whose signal is stored (same dedupe key), maybe
        # by another worker a moment ago: alone, each draft finds out which.
        written = ([_write_alone(core, draft) for draft in drafts] if len(drafts) > 1
                   else [_stored_before(core, drafts[0], error)])
    for (index, _), outcome in zip(parsed, written, strict=True):
        outcomes[index] = outcome
    # "Same as VOC-12?": each new report with the open case it resembles (similar.py).
    return similar.offer(core, [outcome for outcome in outcomes if outcome is not None])


def _write(core: Core, drafts: Sequence[ParsedDraft]) -> list[CaptureResult | Exception]:
    # Embedded before the transaction (none: routed by words); stored with the signals.
    meant = core.meaning.vectors([d.text for d in drafts])
    with core.db.write() as session:
        views = write_signals(core, session, drafts)
        vectors.store(session=session, model=core.meaning.model, vectors=[
            (view.id, vector) for view, vector in zip(views, meant, strict=True)
            if vector is not None and not isinstance(view, VocError)])
        return [view if isinstance(view, VocError) else CaptureResult(view, refused=d.refused)
                for d, view in zip(drafts, views, strict=True)]


def _write_alone(core: Core, draft: ParsedDraft) -> CaptureResult | Exception:
    try:
        return _write(core, [draft])[0]
    except IntegrityError as error:
        return _stored_before(core, draft, error)
    except Exception as error:  # this draft's own failure, reported to its reporter only
        return error


def _stored_before(core: Core, draft: ParsedDraft, conflict: IntegrityError
                   ) -> CaptureResult | Exception:
    """The signal stored before under the draft's dedupe key, else the conflict itself."""
    with core.db.read() as session:
        key = draft.dedupe_key
        seen = key and q.signal_by_dedupe_key(session=session, dedupe_key=key)
        if not seen:
            return conflict
        return CaptureResult(signal_view_for(core, session, seen, draft.actor), duplicate=True)


def suggest(core: Core, text: str) -> DepartmentView:
    """The department the text would be routed to (for preselecting it in a form)."""
    core.meaning.vectors([text])
    with core.db.read() as session:
        training.refresh(core, session)
        suggestion = blend.suggest(core, text)
        department = q.department_by_slug(session=session, slug=suggestion.slug)
        if department is None:
            raise NotFound(N_("Unknown department “%(slug)s”."), slug=suggestion.slug)
        return department_view(department)


def record_score(core: Core, actor: str, value: int | str, *, customer: str | None = None,
                 comment: str | None = None, segment: str | None = None,
                 dedupe_key: str | None = None) -> ScoreView:
    """A customer's 0-10 NPS answer, reported from chat. A re-delivered request (the same
    `dedupe_key`, the platform's id of the message) records nothing new and returns the score
    recorded the first time."""
    score_value = inputs.parse_score(value)
    key = inputs.strip_controls(dedupe_key or "")[:200] or None
    try:
        with core.db.write() as session:
            person = person_of(core, session, actor)
            score = Score(kind="customer", source="chat", value=score_value, at=core.clock(),
                          customer=inputs.optional_text(customer, domain.MAX_CUSTOMER),
                          segment=inputs.optional_text(segment, 100),
                          comment=inputs.optional_text(comment, domain.MAX_NOTE),
                          person_id=person.id, dedupe_key=key)
            session.add(score)
            session.flush()
            return _score_view(score)
    except IntegrityError:
        with core.db.read() as session:
            stored = q.score_by_dedupe_key(session=session, dedupe_key=key) if key else None
            if stored is None:
                raise
            return _score_view(stored)


def _score_view(score: Score) -> ScoreView:
    assert score.id is not None
    return ScoreView(score.id, score.value, score.customer, score.comment)
