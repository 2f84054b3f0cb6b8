"""The messages a change causes, queued in its transaction: department cards (posted, updated
in place, marked as moved), the reporter's note, notices to a department.

Every card has a key per destination and per routing: a signal moved away and back gets new
cards, so two routings never edit one card.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.core.capture import evidence
from bot.core.presentation import render
from bot.core.presentation.messages import OutboundMessage
from bot.core.presentation.views import SignalView
from bot.core.presentation.visibility import event_view, signal_view
from bot.core.shared.context import Core
from bot.core.shared.identity import FORGOTTEN_IDENTITY
from bot.core.shared.platforms import department_destinations
from bot.core.shared.rows import department_of
from storage import files
from storage.models import Department, Event, Person, Signal
from storage.outbox import NewMessage, enqueue


def destinations(department: Department) -> list[str]:
    """Where the department's cards go: its chat on each platform (a Slack channel, a
    Telegram chat or topic)."""
    return department_destinations(department)


def card_key(signal_id: int | None, slug: str, routing_event: int, destination: str) -> str:
    """The key of one card: signal, department, the routing's event and the destination."""
    return f"card:{signal_id}:{slug}:{routing_event}@{destination}"


def current_card_key(signal: Signal, department: Department, destination: str) -> str:
    """The card of the signal's current routing in one destination."""
    return card_key(signal.id, department.slug, (signal.routing or {}).get("card", 0),
                    destination)


def new_cards(signal_id: int, department: Department, routing_event: int, event_id: int | None,
              message: dict[str, Any]) -> list[NewMessage]:
    """The posts of a routing's card (`message` as JSON) to each of the department's chats."""
    return [NewMessage(dedupe_key=f"card:{event_id}@{destination}", destination=destination,
                       operation="send",
                       card_key=card_key(signal_id, department.slug, routing_event, destination),
                       payload={"message": message})
            for destination in destinations(department)]


def post_cards(core: Core, session: Session, signal: Signal, department: Department,
               event_id: int | None) -> None:
    """Post the signal's card to the department it was just routed to."""
    view = signal_view(core, session, signal, viewer=None)
    message = render.card(view, core.translator()).to_json()
    posts = new_cards(signal.id or 0, department, (signal.routing or {}).get("card", 0),
                      event_id, message)
    enqueue(session=session, now=core.clock(), messages=posts)
    if view.attachments:  # the files follow the case to its new department's cards
        enqueue(session=session, now=core.clock(), messages=evidence.deliveries(
            view.ref, files.attachments_of(session=session, signal_id=view.id),
            [(m.destination, m.card_key) for m in posts if m.card_key]))


def update_cards(core: Core, session: Session, signal: Signal, event: Event, *,
                 notify_reporter: bool) -> SignalView:
    """Edit the signal's cards in place after `event` (and tell the reporter, if asked);
    return the signal as the department sees it (viewing.seen_by reuses it)."""
    department = department_of(session, signal.department_id)
    view = signal_view(core, session, signal, viewer=None)
    message = render.card(view, core.translator()).to_json()
    enqueue(session=session, now=core.clock(), messages=[NewMessage(
        dedupe_key=f"card-update:{event.id}@{destination}", destination=destination,
        operation="update", card_key=current_card_key(signal, department, destination),
        payload={"message": message}) for destination in destinations(department)])
    if notify_reporter:
        note_reporter(core, session, signal, view, event)
    return view


def mark_moved(core: Core, session: Session, view: SignalView, source: Department,
               ended_routing: int, event: Event) -> None:
    """Turn the cards of the routing that `event` ended into "moved to ..." (no buttons)."""
    message = render.moved_card(view, core.translator()).to_json()
    enqueue(session=session, now=core.clock(), messages=[NewMessage(
        dedupe_key=f"card-update:{event.id}@{destination}", destination=destination,
        operation="update", card_key=card_key(view.id, source.slug, ended_routing, destination),
        payload={"message": message}) for destination in destinations(source)])


def note_reporter(core: Core, session: Session, signal: Signal, view: SignalView,
                  event: Event) -> None:
    """Tell the reporter what happened (not when they did it themselves), in their language."""
    if event.actor_id == signal.reporter_id or signal.reporter_identity == FORGOTTEN_IDENTITY:
        return  # ... nor when they asked to be forgotten
    reporter = session.get(Person, signal.reporter_id)
    assert reporter is not None
    t = core.translator(core.locale_of(reporter))
    note = render.reporter_note(view, event_view(view, event), t)
    enqueue(session=session, now=core.clock(), messages=[NewMessage(
        dedupe_key=f"note:{event.id}", destination=signal.reporter_identity,
        operation="send", payload={"message": note.to_json()})])


def reply_to_cards(core: Core, session: Session, signal: Signal, key: str,
                   message: OutboundMessage) -> None:
    """A message under each of the case's current cards: in the card's Slack thread, as a
    reply to the card in the Telegram group or topic (`key` makes it once only)."""
    department = department_of(session, signal.department_id)
    enqueue(session=session, now=core.clock(), messages=[
        NewMessage(dedupe_key=f"{key}@{destination}", destination=destination,
                   operation="reply", card_key=current_card_key(signal, department, destination),
                   payload={"message": message.to_json()})
        for destination in destinations(department)])


def to_department(core: Core, session: Session, department: Department, key: str,
                  message: OutboundMessage) -> None:
    """A message to every chat of a department (`key` makes it once only)."""
    enqueue(session=session, now=core.clock(), messages=[
        NewMessage(dedupe_key=f"{key}@{destination}", destination=destination,
                   operation="send", payload={"message": message.to_json()})
        for destination in destinations(department)])


def react_at_source(core: Core, session: Session, signal: Signal, event: Event,
                    state: str) -> None:
    """Mark the reporter's own message (`acknowledged`, `resolved`) where its platform allows
    reactions on it: a Telegram message it was captured from (private chat or group). The port
    picks the emoji; a port without reactions skips the row."""
    platform, _, rest = (signal.dedupe_key or "").partition(":")
    chat, _, message_id = rest.partition(":")
    if platform != "telegram" or not message_id.isdecimal() or not chat.lstrip("-").isdecimal():
        return
    if signal.reporter_identity == FORGOTTEN_IDENTITY:
        return
    enqueue(session=session, now=core.clock(), messages=[NewMessage(
        dedupe_key=f"react:{event.id}", destination=f"telegram:{chat}", operation="react",
        payload={"message_id": int(message_id), "state": state})])
