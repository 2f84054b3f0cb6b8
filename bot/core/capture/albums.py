"""Adding files to a report already stored: the later items of a Telegram album whose first
item (with the `/complaint ...` caption) made the report. Only its reporter may add; the
case's limits count what it holds already; its cards are updated ("3 attachments") and the new
files follow each card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from bot.core.capture import evidence
from bot.core.capture.evidence import IncomingFile
from bot.core.handling.audit import record_event
from bot.core.handling.guards import require_reporter
from bot.core.handling.outgoing import current_card_key, destinations, update_cards
from bot.core.presentation.views import SignalView, format_ref
from bot.core.presentation.visibility import signal_view_for
from bot.core.shared.context import Core
from bot.core.shared.domain import EventAction
from bot.core.shared.errors import InvalidInput
from bot.core.shared.rows import department_of, row_id
from storage import files as stored
from storage import queries as q
from storage.models import Person, Signal
from storage.outbox import enqueue


@dataclass(frozen=True)
class Added:
    """The report the files joined (None: no report has that album), and refused files."""

    signal: SignalView | None
    refused: tuple[InvalidInput, ...] = ()


def add_to_album(core: Core, actor: str, album: str, files: Sequence[IncomingFile], *,
                 source: str) -> Added:
    """Attach the files of one album item (`source`: its message's id) to the report the
    album made; a re-delivered item adds nothing."""
    with core.db.write() as session:
        signal_id = stored.signal_of_album(session=session, album=album)
        if signal_id is None:
            return Added(None)
        signal = q.lock_signal(session=session, signal_id=signal_id)
        assert signal is not None
        person = q.person_by_identity(session=session, identity=actor)
        require_reporter(person, signal)
        if stored.seen_source(session=session, source_key=f"{source}#0"):
            return Added(signal_view_for(core, session, signal, actor))
        count, size = stored.totals(session=session, signal_id=signal_id)
        screened = evidence.screen(files, count=count, size=size)
        if screened.kept:
            kept = stored.attach(connection=session.connection(), signal_id=signal_id,
                                 now=core.clock(), files=evidence.to_keep(
                                     screened.kept, source=source, album=album,
                                     anonymous=signal.anonymous, before=count))
            _deliver(core, session, signal, kept, person)
        return Added(signal_view_for(core, session, signal, actor), screened.refused)


def _deliver(core: Core, session: Session, signal: Signal,
             kept: Sequence[stored.StoredAttachment], person: Person | None) -> None:
    """The audit event, the cards' new count, and each new file under each card."""
    event = record_event(core, session, signal, person, EventAction.ATTACHED,
                         {"files": [a.filename for a in kept]})
    update_cards(core, session, signal, event, notify_reporter=False)
    department = department_of(session, signal.department_id)
    cards = [(d, current_card_key(signal, department, d)) for d in destinations(department)]
    enqueue(session=session, now=core.clock(), messages=evidence.deliveries(
        format_ref(row_id(signal)), kept, cards))
