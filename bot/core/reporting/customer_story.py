"""A customer's story: the account's signals across departments, newest first, its NPS from
its own scores, its open cases with their owner and SLA state, and the last contact.

Anyone the bot knows may ask for it. Counts and the NPS cover every signal; a signal's text
shows only to those who may see its department (members, heads, leadership, admins) and to
its reporter, and an anonymous report never shows who made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.core.customers.accounts import find_account, id_of, resolve
from bot.core.customers.matching import Verdict
from bot.core.customers.names import customer_name
from bot.core.customers.problems import CustomerProblem
from bot.core.presentation.views import format_ref
from bot.core.reporting.nps import Nps
from bot.core.shared.context import Core
from bot.core.shared.domain import OPEN_STATUSES, Kind, Status
from bot.core.shared.errors import Forbidden, InvalidInput, NotFound
from bot.core.shared.i18n import N_, DepartmentName
from bot.core.shared.rows import department_of, row_id
from storage import accounts as store
from storage import queries as q
from storage.models import Account, Person, Signal

NEWEST = 10  # signals the story lists
OPEN = 10  # open cases it lists


@dataclass(frozen=True)
class StoryLine:
    """One signal of the story as its reader may see it."""

    ref: str
    kind: Kind
    status: Status
    department: DepartmentName  # rendered in the reader's language
    created_at: datetime
    ack_due_at: datetime
    overdue: bool
    text: str | None  # None: the reader may not see this department's signals
    reporter: str | None  # None: anonymous, or hidden with the text
    acknowledged_by: str | None = None


@dataclass(frozen=True)
class CustomerStory:
    """What a person reads about one customer."""

    account_id: int
    name: str
    names: tuple[str, ...]
    owner: str | None
    segment: str | None
    signals: int
    departments: tuple[tuple[DepartmentName, int], ...]  # (department, signals), most first
    nps: Nps
    open: tuple[StoryLine, ...]
    newest: tuple[StoryLine, ...]
    last_contact: datetime | None


def customer_story(core: Core, actor: str, reference: str) -> CustomerStory:
    """The story of the account `reference` names (#12, or one of its names, or a spelling
    close enough to one)."""
    if not reference.strip():
        raise InvalidInput(N_("Name the customer, or give its account number like #12."))
    with core.db.read() as session:
        viewer = q.person_by_identity(session=session, identity=actor)
        if viewer is None:
            raise Forbidden(N_("Only people the bot knows can read a customer's story."))
        account = _account(session, reference)
        account_id = id_of(account)
        names = tuple(a.name for a in store.aliases_of(session=session, account_id=account_id))
        scores = store.account_score_values(session=session, account_id=account_id, names=names)
        newest = store.newest_signals(session=session, account_id=account_id, limit=NEWEST)
        opened = store.open_signals(session=session, account_id=account_id,
                                    statuses=[str(s) for s in OPEN_STATUSES], limit=OPEN)
        by_department = store.counts_by_department(session=session, account_id=account_id)
        owner = (q.person_by_identity(session=session, identity=account.owner_identity)
                 if account.owner_identity else None)
        line = _Lines(core, session, viewer, [row_id(s) for s in opened])
        contacts = [s.created_at for s in newest[:1]] + [at for _, at in scores]
        return CustomerStory(
            account_id=account_id, name=account.name, names=names,
            owner=owner.display_name if owner else account.owner_identity,
            segment=account.segment, signals=sum(count for _, count in by_department),
            departments=tuple((DepartmentName.of(department_of(session, d)), count)
                              for d, count in by_department),
            nps=Nps.of(value for value, _ in scores),
            open=tuple(line(s) for s in opened), newest=tuple(line(s) for s in newest),
            last_contact=max(contacts) if contacts else None)


def _account(session: Session, reference: str) -> Account:
    """The account meant; a close spelling is taken when sure, suggested when not."""
    try:
        return resolve(session, reference)
    except CustomerProblem as problem:
        found = find_account(session, customer_name(reference))
        if found.account_id is not None and found.verdict is Verdict.SAME:
            return resolve(session, f"#{found.account_id}")
        if found.account_id is not None:
            raise NotFound(N_("No account is called “%(name)s”. Did you mean %(account)s?"),
                           name=reference.strip()[:200], account=found.alias) from None
        raise NotFound(problem.message, **problem.params) from None


class _Lines:
    """Signals as story lines for one reader (department rights looked up once each)."""

    def __init__(self, core: Core, session: Session, viewer: Person, open_ids: list[int]):
        self.core, self.session, self.viewer = core, session, viewer
        self.allowed: dict[int, bool] = {}
        self.names: dict[int, str | None] = {}
        self.acknowledgers = store.acknowledgers(session=session, signal_ids=open_ids)

    def may_read(self, department_id: int) -> bool:
        if department_id not in self.allowed:
            viewer = self.viewer
            self.allowed[department_id] = (
                viewer.is_admin or viewer.is_leadership or viewer.department_id == department_id
                or q.is_head(session=self.session, person_id=row_id(viewer),
                             department_id=department_id))
        return self.allowed[department_id]

    def reporter(self, signal: Signal) -> str | None:
        if signal.reporter_id not in self.names:
            person = self.session.get(Person, signal.reporter_id)
            self.names[signal.reporter_id] = person.display_name if person else None
        return self.names[signal.reporter_id]

    def __call__(self, signal: Signal) -> StoryLine:
        own = signal.reporter_id == self.viewer.id
        readable = own or self.may_read(signal.department_id)
        return StoryLine(
            ref=format_ref(row_id(signal)), kind=Kind(signal.kind), status=Status(signal.status),
            department=DepartmentName.of(department_of(self.session, signal.department_id)),
            created_at=signal.created_at, ack_due_at=signal.ack_due_at,
            overdue=signal.status == Status.ROUTED and self.core.clock() > signal.ack_due_at,
            text=signal.text if readable else None,
            reporter=(self.reporter(signal) if readable and (own or not signal.anonymous)
                      else None),
            acknowledged_by=self.acknowledgers.get(row_id(signal)))

