"""Reporting: a draft (kind, text, customer, score, department, anonymous) becomes a routed
signal with its cards; a customer's 0-10 score is recorded. Field checks name the field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from bot.core import domain, inputs
from bot.core.capture_batch import write_signals
from bot.core.context import Core
from bot.core.domain import Kind
from bot.core.errors import InvalidInput, NotFound, VocError
from bot.core.i18n import N_
from bot.core.lookups import person_of, require_identity
from bot.core.viewing import department_view, signal_view_for
from bot.core.views import CaptureResult, DepartmentView, ScoreView
from storage import queries as q
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


@dataclass(frozen=True)
class ParsedDraft:
    """A draft whose every field passed validation, with the reporter's identity."""

    actor: str
    kind: Kind
    text: str
    customer: str | None
    score: int | None
    link: str | None
    anonymous: bool
    department: str | None  # the slug the reporter chose, as typed; None: the suggestion
    dedupe_key: str | None


def parse_draft(actor: str, draft: Draft) -> ParsedDraft:
    """Validate a draft (InvalidInput names the first bad field); nothing is read or written."""
    require_identity(actor)
    return ParsedDraft(
        actor=actor, kind=inputs.parse_kind(draft.kind), text=inputs.signal_text(draft.text),
        customer=inputs.optional_text(draft.customer, domain.MAX_CUSTOMER),
        score=None if draft.score in (None, "") else inputs.parse_score(draft.score),
        link=inputs.optional_text(draft.source_link, domain.MAX_LINK),
        anonymous=draft.anonymous, department=draft.department,
        dedupe_key=inputs.strip_controls(draft.dedupe_key or "")[:200] or None)


def draft_problems(draft: Draft) -> dict[str, InvalidInput]:
    """What capture would refuse in each field of a draft, by field name (changes nothing):
    forms show every problem next to its field at once."""
    checks: dict[str, Callable[[], object]] = {
        "kind": lambda: inputs.parse_kind(draft.kind),
        "text": lambda: inputs.signal_text(draft.text),
        "customer": lambda: inputs.optional_text(draft.customer, domain.MAX_CUSTOMER),
        "score": lambda: None if draft.score in (None, "") else inputs.parse_score(draft.score),
    }
    problems: dict[str, InvalidInput] = {}
    for name, check in checks.items():
        try:
            check()
        except InvalidInput as error:
            problems[name] = error
    return problems


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
    return [outcome for outcome in outcomes if outcome is not None]


def _write(core: Core, drafts: Sequence[ParsedDraft]) -> list[CaptureResult | Exception]:
    with core.db.write() as session:
        return [view if isinstance(view, VocError) else CaptureResult(view)
                for view in write_signals(core, session, drafts)]


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
    suggestion = core.router.suggest(text)
    with core.db.read() as session:
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
