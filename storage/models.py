"""Tables. Timestamps are timezone-aware UTC; JSON columns hold small lists and details only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from bot.core.shared.domain import (
    MAX_CUSTOMER,
    MAX_DEDUPE_KEY,
    MAX_FILE_NAME,
    MAX_LINK,
    MAX_NAME,
    MAX_RESOLUTION_CODE,
    MAX_SEGMENT,
)
from storage.types import UTCDateTime

MAX_ALIAS_KEY = 400  # a customer text of MAX_CUSTOMER letters, in Latin letters (щ is shch)
MAX_ALIAS_BLOCK = 8


def _at(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Department(SQLModel, table=True):
    """A department as last synced from the departments file; removed ones are archived."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=MAX_NAME)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Its chat on each platform, as the departments file writes it (bot/core/shared/platforms.py):
    # {"slack": {"slack_channel": "C0X"}, "telegram": {"telegram_chat": -1001, "telegram_topic": 7}}
    addresses: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                 sa_column=Column(JSON, nullable=False))
    ack_sla_hours: float = 24.0
    archived_at: datetime | None = _at(nullable=True)


class DepartmentSupplier(SQLModel, table=True):
    """`customer` rates `supplier` in internal NPS pulses."""

    __tablename__ = "department_supplier"
    customer_id: int = Field(foreign_key="department.id", primary_key=True)
    supplier_id: int = Field(foreign_key="department.id", primary_key=True)


class DepartmentHead(SQLModel, table=True):
    """Who may act on the department's signals."""

    __tablename__ = "department_head"
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True, index=True)


class Person(SQLModel, table=True):
    """One employee, whatever platforms they use."""

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(max_length=MAX_NAME)
    department_id: int | None = Field(default=None, foreign_key="department.id")  # from the file
    # Chosen by the person (Telegram /start) when the file does not name them; sync keeps it.
    chosen_department_id: int | None = Field(default=None, foreign_key="department.id")
    locale: str | None = Field(default=None, max_length=10)  # chosen by the person or the file
    platform_locale: str | None = Field(default=None, max_length=10)  # from their chat profile
    is_leadership: bool = False
    is_admin: bool = False
    created_at: datetime = _at()


class Identity(SQLModel, table=True):
    """A platform account (`slack:U123`, `telegram:42`) belonging to a person."""

    identity: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)


class Signal(SQLModel, table=True):
    """A customer signal: complaint, praise or idea, and where it is in its loop."""

    __table_args__ = (
        Index("ix_signal_created_department", "created_at", "department_id"),
        Index("ix_signal_department_status_due", "department_id", "status", "ack_due_at"),
        Index("ix_signal_reporter_created", "reporter_id", "created_at"),
        # Digest figures (0003): covering the weekly aggregates, resolutions, the SLA sweep.
        Index("ix_signal_digest", "created_at", "kind", "department_id", "status",
              "routed_at", "acknowledged_at", "ack_due_at"),
        Index("ix_signal_resolved_department", "resolved_at", "department_id"),
        Index("ix_signal_status_due", "status", "ack_due_at"),
        # A customer's story: newest first; its counts by department and state and its
        # scores from the index alone, in its order (a big customer has tens of thousands).
        Index("ix_signal_account_created", "account_id", "created_at"),
        Index("ix_signal_account_department", "account_id", "department_id", "status",
              "score"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 10)", name="ck_signal_score"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # a Kind
    status: str = Field(max_length=16)  # a Status
    text: str = Field(sa_column=Column(Text, nullable=False))
    customer: str | None = Field(default=None, max_length=MAX_CUSTOMER)
    score: int | None = None
    source_link: str | None = Field(default=None, max_length=MAX_LINK)
    anonymous: bool = False
    reporter_id: int = Field(foreign_key="person.id")
    reporter_identity: str = Field(max_length=64)
    reporter_department_id: int | None = Field(default=None, foreign_key="department.id")
    department_id: int = Field(foreign_key="department.id")
    routing: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dedupe_key: str | None = Field(default=None, max_length=MAX_DEDUPE_KEY, unique=True)
    created_at: datetime = _at()
    routed_at: datetime = _at()
    ack_due_at: datetime = _at()
    acknowledged_at: datetime | None = _at(nullable=True)
    resolved_at: datetime | None = _at(nullable=True)
    updated_at: datetime = _at()
    # SLA sweep: when the heads were reminded / leadership was told, for the current routing.
    reminded_at: datetime | None = _at(nullable=True)
    escalated_at: datetime | None = _at(nullable=True)
    # Retention or a deletion request removed its texts and names; numbers and dates stay.
    erased_at: datetime | None = _at(nullable=True)
    # The case as a conversation (0004): why it happened, and the case a "me too" joined.
    resolution_code: str | None = Field(default=None, max_length=MAX_RESOLUTION_CODE)
    merged_into_id: int | None = Field(default=None, foreign_key="signal.id", index=True)
    # The customer's account, when the customer text was matched to one (bot/core/customers).
    account_id: int | None = Field(default=None, foreign_key="account.id")


class Event(SQLModel, table=True):
    """Append-only audit trail: who did what to which signal, when and why."""

    __table_args__ = (Index("ix_event_signal_at", "signal_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    signal_id: int = Field(foreign_key="signal.id")
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=32)  # an EventAction
    at: datetime = _at(index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Score(SQLModel, table=True):
    """A 0-10 answer: a customer's NPS (`customer`) or a department's rating of another."""

    __table_args__ = (
        Index("ix_score_kind_at", "kind", "at"),
        Index("ix_score_rated_at", "rated_department_id", "at"),
        Index("ix_score_kind_at_value", "kind", "at", "value"),  # digest NPS trend (0003)
        CheckConstraint("value >= 0 AND value <= 10", name="ck_score_value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # a ScoreKind
    source: str = Field(max_length=16)  # a ScoreSource
    value: int
    at: datetime = _at()
    customer: str | None = Field(default=None, max_length=MAX_CUSTOMER)
    segment: str | None = Field(default=None, max_length=MAX_SEGMENT)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    signal_id: int | None = Field(default=None, foreign_key="signal.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    rater_department_id: int | None = Field(default=None, foreign_key="department.id")
    rated_department_id: int | None = Field(default=None, foreign_key="department.id")
    pulse_round: str | None = Field(default=None, max_length=32)
    dedupe_key: str | None = Field(default=None, max_length=MAX_DEDUPE_KEY, unique=True)


class FileBlob(SQLModel, table=True):
    """A file's bytes, once per content (sha256): the same photo on two reports is kept once.
    In the database, so every replica reads what any of them received."""

    __tablename__ = "file_blob"
    sha256: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_type=BigInteger)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _at()


class Attachment(SQLModel, table=True):
    """A file on a signal: its name and type as kept, and where it came from (`source_key`,
    the platform's id of the message that carried it: a re-delivery attaches nothing twice;
    `album`: the Telegram media group it arrived in, so the album's later items find it)."""

    __table_args__ = (Index("ix_attachment_album", "album"),)

    id: int | None = Field(default=None, primary_key=True)
    signal_id: int = Field(foreign_key="signal.id", index=True)
    sha256: str = Field(foreign_key="file_blob.sha256", max_length=64, index=True)
    filename: str = Field(max_length=MAX_FILE_NAME)
    mime: str = Field(max_length=100)
    size: int = Field(sa_type=BigInteger)
    source_key: str | None = Field(default=None, max_length=MAX_DEDUPE_KEY, unique=True)
    album: str | None = Field(default=None, max_length=MAX_DEDUPE_KEY)
    created_at: datetime = _at()


class Outbox(SQLModel, table=True):
    """A message to deliver because state changed, written in the same transaction as the change."""

    __table_args__ = (
        Index("ix_outbox_status_not_before", "status", "not_before"),
        Index("ix_outbox_card_key", "card_key", "operation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    destination: str = Field(max_length=80)
    platform: str = Field(max_length=16)
    operation: str = Field(max_length=16)
    card_key: str | None = Field(default=None, max_length=120)
    # Nobody is waiting for it (a survey, a digest, a reminder): it goes after the others.
    bulk: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    not_before: datetime = _at()
    lease_until: datetime | None = _at(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_id: str | None = Field(default=None, max_length=120)
    created_at: datetime = _at()
    sent_at: datetime | None = _at(nullable=True)
    erased_at: datetime | None = _at(nullable=True)  # retention emptied its payload


class JobClaim(SQLModel, table=True):
    """Exactly-once marker for scheduled work: one row per (job, period) across all replicas."""

    __tablename__ = "job_claim"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_claim_job_period"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    period: str = Field(max_length=64)
    claimed_at: datetime = _at()
    owner: str = Field(default="", max_length=120)


class AdminEvent(SQLModel, table=True):
    """Audit trail of operations on the data as a whole (retention, deletion requests)."""

    __tablename__ = "admin_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _at(index=True)
    action: str = Field(max_length=32)  # retention, forget
    actor: str = Field(max_length=120)  # cli:user@host, scheduler:host:pid
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RoutingModel(SQLModel, table=True):
    """The routing model learned from the company's history (bot/core/routing/learned.py), shared by
    every replica; the newest row is the one in use."""

    __tablename__ = "routing_model"

    id: int | None = Field(default=None, primary_key=True)
    trained_at: datetime = _at()
    cases: int = 0
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SignalVector(SQLModel, table=True):
    """What a signal's text means, as the language layer's vector (bot/core/meaning), stored
    once per signal with the model that made it: vectors of two models are not comparable, so
    `voc language reindex` replaces them when the model changes. Erased with the text."""

    __tablename__ = "signal_vector"

    signal_id: int = Field(foreign_key="signal.id", primary_key=True)
    model: str = Field(max_length=200, index=True)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float32, unit length
    created_at: datetime = _at()


class Account(SQLModel, table=True):
    """A customer as one account: the signals whose customer texts name it, across departments."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=MAX_CUSTOMER)
    owner_identity: str | None = Field(default=None, max_length=64)  # who looks after it
    segment: str | None = Field(default=None, max_length=MAX_SEGMENT)
    created_at: datetime = _at()
    # Merged into another account: its names and signals went there; kept for the audit trail.
    merged_into_id: int | None = Field(default=None, foreign_key="account.id", index=True)


class AccountAlias(SQLModel, table=True):
    """A name an account is known by, under its key (bot/core/customers/names.py): equal keys
    are the same customer. `head` and `tail` (the first and last two consonants of how the name
    sounds) find the names a misspelt or transliterated one may be."""

    __tablename__ = "account_alias"

    key: str = Field(primary_key=True, max_length=MAX_ALIAS_KEY)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=MAX_CUSTOMER)  # as first written
    head: str = Field(max_length=MAX_ALIAS_BLOCK, index=True)
    tail: str = Field(max_length=MAX_ALIAS_BLOCK, index=True)
    created_at: datetime = _at()


class AccountEvent(SQLModel, table=True):
    """Audit trail of accounts: created, imported, merged, split; by whom and with what."""

    __tablename__ = "account_event"
    __table_args__ = (Index("ix_account_event_account_at", "account_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    at: datetime = _at()
    action: str = Field(max_length=32)  # an AccountAction
    actor: str = Field(max_length=120)  # an identity, or cli:user@host
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
