"""What the core returns to adapters: plain, immutable values with nothing left to query."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.shared.domain import Kind, Status

if TYPE_CHECKING:
    from bot.core.shared.errors import InvalidInput


@dataclass(frozen=True)
class PersonView:
    """Who is talking to the bot, and what they may do."""

    id: int
    display_name: str
    identities: tuple[str, ...]
    locale: str
    department: str | None
    heads: tuple[str, ...]
    is_leadership: bool
    is_admin: bool


@dataclass(frozen=True)
class DepartmentView:
    """A department as shown in pickers and headers."""

    slug: str
    name: str
    description: str
    ack_sla_hours: float


@dataclass(frozen=True)
class EventView:
    """One line of a signal's history; `actor` is None for the bot or a hidden reporter."""

    action: str
    at: datetime
    actor: str | None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalView:
    """A signal as one viewer may see it (the reporter is hidden on anonymous signals)."""

    id: int
    kind: Kind
    status: Status
    text: str
    department: DepartmentView
    reporter: str | None
    anonymous: bool
    created_at: datetime
    routed_at: datetime
    ack_due_at: datetime
    overdue: bool
    customer: str | None = None
    score: int | None = None
    source_link: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    routed_by_keywords: tuple[str, ...] = ()
    routed_by_similar: tuple[int, ...] = ()  # past cases the learned model leaned on
    routed_by_fallback: bool = False
    routed_by_meaning: bool = False  # the language layer chose the department
    rating: int | None = None
    history: tuple[EventView, ...] = ()
    attachments: tuple[str, ...] = ()  # the names of its files, in order
    question: str | None = None  # a department's question waiting for the reporter (mine)
    resolution: str | None = None  # its resolution code's label, in the company's language
    reporters: int = 1  # its reporter and those of the reports merged into it ("me too")
    merged_into: str | None = None  # the case this report was merged into (VOC-n)
    similar: tuple[str, str] | None = None  # an open case it resembles: (VOC-n, first line)
    account_id: int | None = None  # its customer's account
    customer_others: int = 0  # the account's other signals in the last 30 days
    # An unsure customer match the reporter is asked about: (account id, its name, reports).
    customer_question: tuple[int, str, int] | None = None

    @property
    def ref(self) -> str:
        """The short reference people quote: VOC-123."""
        return format_ref(self.id)


@dataclass(frozen=True)
class CaptureResult:
    """The stored signal, and whether it was a re-delivery of one stored before."""

    signal: SignalView
    duplicate: bool = False
    refused: tuple[InvalidInput, ...] = ()  # files not attached, each saying why


@dataclass(frozen=True)
class QueueView:
    """A department's open signals, overdue first."""

    department: DepartmentView
    items: tuple[SignalView, ...]
    overdue: int
    other_departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreView:
    """A recorded customer NPS answer."""

    id: int
    value: int
    customer: str | None
    comment: str | None


def format_ref(signal_id: int) -> str:
    """VOC-<n>."""
    return f"VOC-{signal_id}"


@dataclass(frozen=True)
class PulseView:
    """One internal NPS pulse answer: how the rater's department sees a supplier this round."""

    ref: str  # "<round>:<supplier slug>", as on the buttons
    round: str
    supplier: DepartmentView
    rater_department: str
    value: int
    comment: str | None = None
