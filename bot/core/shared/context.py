"""What every use case needs: the store, the company, the clock, translators and the router.

`Core` is shared by the use-case modules (capture, cases, queues, people, pulses, reminders);
`VocService` (service.py) is a `Core` that offers them to adapters and jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session

from bot.core.meaning.layer import CASES, Meaning
from bot.core.routing.keywords import DepartmentProfile, Router
from bot.core.routing.learned import LearningRouter
from bot.core.shared.company import Company
from bot.core.shared.i18n import SUPPORTED_LOCALES, Translator
from storage import queries as q
from storage.db import Database
from storage.models import Department, Person

if TYPE_CHECKING:
    from bot.core.meaning.port import Embedder

DEPARTMENTS_TTL = 30.0  # seconds a running bot may use department rows read before a sync


def utc_now() -> datetime:
    """The real clock (tests and the demo pass their own)."""
    return datetime.now(UTC)


class Core:
    """The database, the validated company, the clock, and what is built once from them."""

    def __init__(self, db: Database, company: Company, *,
                 clock: Callable[[], datetime] = utc_now, list_limit: int = 50,
                 embedder: Embedder | None = None, language_cases: int = CASES) -> None:
        self.db = db
        self.company = company
        self.clock = clock
        self.list_limit = list_limit
        # Keywords blended with the model learned from history (bot/core/routing/learned.py), which
        # bot/core/routing/training.py loads from the database and refreshes.
        self.router = LearningRouter(Router(
            [DepartmentProfile(d.slug, d.name, d.description, d.keywords)
             for d in company.departments],
            company.triage,
        ))
        # The language layer (bot/core/meaning/layer.py); None or `Off`: words alone decide.
        self.meaning = Meaning(embedder, cases=language_cases)
        # Where to write to someone with several accounts: the one the file lists first.
        listed = [i for d in company.departments for i in (*d.heads, *d.members)]
        listed += [i for person in company.people for i in person.identities]
        self._listed = {identity: n for n, identity in reversed(list(enumerate(listed)))}
        self._translators: dict[str, Translator] = {}
        self._departments: tuple[float, frozenset[int], dict[str, Department]] = (
            -DEPARTMENTS_TTL, frozenset(), {})

    def translator(self, locale: str | None = None) -> Translator:
        """A translator in company time for `locale` (the company language by default)."""
        locale = locale or self.company.locale
        locale = locale if locale in SUPPORTED_LOCALES else "en"  # as Translator does
        translator = self._translators.get(locale)
        if translator is None:  # one per language: every reply and card needs one
            names = {d.slug: d.names[locale] for d in self.company.departments
                     if locale in d.names}
            translator = self._translators[locale] = Translator(locale, self.company.timezone,
                                                                names)
        return translator

    def dm_identity(self, identities: Iterable[str]) -> str:
        """Which of a person's accounts to write to: the one the departments file lists first
        for them (its order says which chat they read), else the first alphabetically."""
        return min(identities, key=lambda i: (self._listed.get(i, len(self._listed)), i))

    def locale_of(self, person: Person) -> str:
        """The language a person reads: chosen, else their platform's, else the company's."""
        return person.locale or person.platform_locale or self.company.locale

    def active_departments(self, session: Session, slugs: set[str]) -> dict[str, Department]:
        """Active departments by slug, for capture. Read again when a department was archived
        or added (one query of their ids per batch tells), when a slug asked for is missing,
        and at least every `DEPARTMENTS_TTL` seconds (names, channels and SLAs change only
        when the departments file is synced)."""
        loaded_at, ids, departments = self._departments
        active = q.active_department_ids(connection=session.connection())
        if (active != ids or not slugs <= departments.keys()
                or time.monotonic() - loaded_at > DEPARTMENTS_TTL):
            departments = {d.slug: d for d in q.active_departments(session=session)}
            for department in departments.values():
                session.expunge(department)  # kept across transactions: read-only copies
            self._departments = (time.monotonic(), active, departments)
            # The language layer embeds changed profiles again (in a thread of its own).
            self.meaning.follow([(d.slug, d.name, d.description, tuple(d.keywords))
                                 for d in departments.values()])
        return departments
