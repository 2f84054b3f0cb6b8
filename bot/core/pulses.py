"""Internal NPS pulses: a department rates the departments that serve it, once per round."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core import domain, inputs
from bot.core.cadence import round_bounds
from bot.core.context import Core
from bot.core.errors import Forbidden, InvalidInput, InvalidTransition
from bot.core.i18n import N_
from bot.core.lookups import department_by_slug, department_of, person_of, row_id
from bot.core.viewing import department_view
from bot.core.views import PulseView
from storage import queries as q
from storage.models import Department, Person, Score

ALREADY = N_("You have already answered the %(round)s pulse about %(supplier)s.")


def answer_pulse(core: Core, actor: str, ref: str, value: int | str,
                 comment: str | None = None) -> PulseView:
    """An internal NPS pulse answer (`value` 0-10), once per person, supplier and round;
    `value="comment"` adds a comment to the answer already given."""
    round_id, supplier_slug = pulse_of(core, ref)
    adding_comment = value == "comment"
    score_value = None if adding_comment else inputs.parse_score(value)
    text = inputs.optional_text(comment, domain.MAX_NOTE)
    try:
        with core.db.write() as session:
            person = person_of(core, session, actor)
            supplier = department_by_slug(session, supplier_slug)
            rater = _rater(session, person, supplier)
            key = f"pulse:{round_id}:{supplier.slug}:{person.id}"
            score = q.score_by_dedupe_key(session=session, dedupe_key=key)
            if adding_comment:
                if score is None:
                    raise InvalidTransition(N_("Choose a score from 0 to 10 first."))
                if text is None:
                    raise InvalidInput(N_("The comment is empty."))
                score.comment = text
            elif score is not None:
                raise InvalidTransition(ALREADY, round=round_id, supplier=supplier.name)
            else:
                assert score_value is not None
                score = Score(kind="internal", source="pulse", value=score_value,
                              at=core.clock(), comment=text, person_id=person.id,
                              rater_department_id=rater.id, rated_department_id=supplier.id,
                              pulse_round=round_id, dedupe_key=key)
            session.add(score)
            session.flush()
            return PulseView(f"{round_id}:{supplier.slug}", round_id,
                             department_view(supplier), rater.name, score.value,
                             score.comment)
    except IntegrityError:  # the same person answered twice at the same moment
        raise InvalidTransition(ALREADY, round=round_id, supplier=supplier_slug) from None


def _rater(session: Session, person: Person, supplier: Department) -> Department:
    """The person's department, if it is one that `supplier` serves (only those rate it)."""
    rater = (department_of(session, person.department_id)
             if person.department_id is not None else None)
    if rater is None or not q.is_supplier(session=session, customer_id=row_id(rater),
                                          supplier_id=row_id(supplier)):
        raise Forbidden(N_("Only departments that %(supplier)s serves rate it in pulses."),
                        supplier=supplier.name)
    return rater


def pulse_of(core: Core, ref: str) -> tuple[str, str]:
    """`2026-11:it` -> (round, supplier slug), refusing malformed and closed rounds."""
    round_id, _, slug = inputs.strip_controls(ref or "").partition(":")
    try:
        start, end = round_bounds(round_id, core.company.timezone)
    except ValueError:
        raise InvalidInput(N_("“%(value)s” is not a pulse."), value=ref[:40]) from None
    if not slug or not start <= core.clock() < end:
        raise InvalidTransition(N_("The %(round)s pulse is closed."), round=round_id)
    return round_id, slug
