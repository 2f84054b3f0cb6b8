"""People and departments: first contact, language, a chosen department, who heads what,
who is leadership."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.core.presentation.views import DepartmentView, PersonView
from bot.core.presentation.visibility import department_view, person_view
from bot.core.shared import inputs
from bot.core.shared.context import Core
from bot.core.shared.errors import Forbidden, InvalidInput
from bot.core.shared.i18n import N_, SUPPORTED_LOCALES, DepartmentName, normalise_locale
from bot.core.shared.rows import department_by_slug, department_of, person_of, row_id
from storage import queries as q
from storage.models import DepartmentHead, Identity, Person


@dataclass(frozen=True)
class Head:
    """A head of a department, and where and in which language to write to them."""

    person_id: int
    identity: str  # the DM destination: their first identity
    locale: str


def identify(core: Core, identity: str, *, display_name: str | None = None,
             platform_locale: str | None = None) -> PersonView:
    """The person behind an identity, created on first contact; profile data refreshed."""
    name = inputs.strip_controls(display_name or "")[:200] or None
    with core.db.write() as session:
        person = person_of(core, session, identity, display_name=name)
        locale = normalise_locale(platform_locale)
        if locale and person.platform_locale != locale:
            person.platform_locale = locale
        if name and person.display_name == identity:
            person.display_name = name
        session.add(person)
        return person_view(core, session, person)


def set_locale(core: Core, actor: str, locale: str) -> PersonView:
    """The person's chosen language (en, ru, zh)."""
    chosen = normalise_locale(locale)
    if chosen is None:
        raise InvalidInput(N_("Unknown language “%(value)s”: choose one of %(choices)s."),
                           value=locale[:20], choices=", ".join(SUPPORTED_LOCALES))
    with core.db.write() as session:
        person = person_of(core, session, actor)
        person.locale = chosen
        session.add(person)
        return person_view(core, session, person)


def choose_department(core: Core, actor: str, slug: str) -> PersonView:
    """Someone the departments file does not place picks their own department."""
    with core.db.write() as session:
        person = person_of(core, session, actor)
        if person.department_id is not None:
            placed = DepartmentName.of(department_of(session, person.department_id))
            raise Forbidden(N_("The departments file places you in %(department)s; ask an "
                               "admin to change it."), department=placed)
        person.chosen_department_id = row_id(department_by_slug(session, slug))
        session.add(person)
        return person_view(core, session, person)


def person(core: Core, identity: str) -> PersonView | None:
    """The person behind an identity, if known (no side effects)."""
    with core.db.read() as session:
        found = q.person_by_identity(session=session, identity=identity)
        return person_view(core, session, found) if found else None


def departments(core: Core) -> list[DepartmentView]:
    """Active departments, for pickers."""
    with core.db.read() as session:
        return [department_view(d) for d in q.active_departments(session=session)]


def find_department(core: Core, typed: str) -> DepartmentView:
    """The active department a person typed (a slug, any case), or a refusal listing them."""
    with core.db.read() as session:
        return department_view(department_by_slug(session, typed))


def require_leadership(core: Core, actor: str) -> PersonView:
    """The actor, if leadership or an admin (digests, exports); Forbidden otherwise."""
    found = person(core, actor)
    if found is None or not (found.is_leadership or found.is_admin):
        raise Forbidden(N_("Only leadership and admins can see the company digest."))
    return found


def heads_of(core: Core, session: Session, department_id: int) -> list[Head]:
    """The department's heads as synced from the departments file, one per person."""
    rows = session.exec(
        select(Person, Identity.identity)
        .join(DepartmentHead, col(DepartmentHead.person_id) == col(Person.id))
        .join(Identity, col(Identity.person_id) == col(Person.id))
        .where(DepartmentHead.department_id == department_id)
        .order_by(col(Person.id), col(Identity.identity)))
    accounts: dict[int, tuple[Person, list[str]]] = {}
    for head, identity in rows:
        accounts.setdefault(row_id(head), (head, []))[1].append(identity)
    return [Head(person_id, core.dm_identity(identities), core.locale_of(head))
            for person_id, (head, identities) in accounts.items()]
