"""Internal NPS pulses: a department rates the departments that serve it, once per round."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.core.presentation import render
from bot.core.presentation.views import PulseView
from bot.core.presentation.visibility import department_view
from bot.core.reporting.periods import round_bounds
from bot.core.shared import domain, inputs
from bot.core.shared.context import Core
from bot.core.shared.domain import ScoreSource
from bot.core.shared.errors import Forbidden, InvalidInput, InvalidTransition
from bot.core.shared.i18n import N_
from bot.core.shared.rows import department_by_slug, department_of, person_of, row_id
from storage import queries as q
from storage.models import Department, DepartmentSupplier, Identity, Person, Score
from storage.outbox import NewMessage


@dataclass(frozen=True)
class Ask:
    """One question of a round: a person about one supplier of their department."""

    person_id: int
    destination: str  # their first identity
    locale: str
    supplier: str
    supplier_name: str

    def key(self, round_id: str) -> str:
        """The answer's dedupe key (as `answer_pulse` stores it)."""
        return pulse_key(round_id, self.supplier, self.person_id)


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
            key = pulse_key(round_id, supplier.slug, row_id(person))
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


def pulse_key(round_id: str, supplier: str, person_id: int) -> str:
    """One person's answer about one supplier in one round (unique: answered once)."""
    return f"pulse:{round_id}:{supplier}:{person_id}"


def asks(core: Core) -> list[Ask]:
    """Every question of a round: each person the departments file places in a department
    that has suppliers, once per supplier (the same people `answer_pulse` lets answer)."""
    supplier = aliased(Department)
    customer = aliased(Department)
    with core.db.read() as session:
        rows = session.exec(
            select(Person, Identity.identity, supplier.slug, supplier.name)
            .join(Identity, col(Identity.person_id) == col(Person.id))
            .join(customer, col(customer.id) == col(Person.department_id))
            .join(DepartmentSupplier, col(DepartmentSupplier.customer_id) == col(customer.id))
            .join(supplier, col(supplier.id) == col(DepartmentSupplier.supplier_id))
            .where(col(customer.archived_at).is_(None), col(supplier.archived_at).is_(None))
            .order_by(col(Person.id), col(supplier.slug), col(Identity.identity)))
        accounts: dict[int, list[str]] = {}
        suppliers: dict[tuple[int, str], tuple[Person, str]] = {}
        for person, identity, slug, name in rows:
            accounts.setdefault(row_id(person), []).append(identity)
            suppliers.setdefault((row_id(person), slug), (person, name))
    return [Ask(person_id, core.dm_identity(accounts[person_id]), core.locale_of(person), slug,
                name) for (person_id, slug), (person, name) in suppliers.items()]


def unanswered(session: Session, round_id: str, questions: list[Ask]) -> list[Ask]:
    """The questions of the round nobody has answered yet."""
    answered = set(session.exec(select(Score.dedupe_key).where(
        Score.pulse_round == round_id, col(Score.source) == ScoreSource.PULSE)))
    return [ask for ask in questions if ask.key(round_id) not in answered]


def question(core: Core, ask: Ask, round_id: str, *, reminder: bool) -> NewMessage:
    """The question (or its reminder) to one person about one supplier, in their language."""
    t = core.translator(ask.locale)
    ref = f"{round_id}:{ask.supplier}"
    message = render.pulse_question(ref, ask.supplier_name, round_id, t, reminder=reminder)
    kind = "pulse-reminder" if reminder else "pulse"
    return NewMessage(f"{kind}:{round_id}:{ask.supplier}:{ask.person_id}", ask.destination,
                      "send", {"message": message.to_json()})
