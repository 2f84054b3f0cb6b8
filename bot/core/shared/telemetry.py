"""What happened, for whoever counts it (bot/metrics.py): the core, the dispatcher and the jobs
say `emit("captured", platform=..., kind=...)`; nothing listens unless a listener subscribed.

Standard library only, so the core stays free of the metrics library; a failing listener is
logged and never fails the work that emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
Listener = Callable[[str, dict[str, Any]], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call `listener(event, fields)` on every event from now on; returns the unsubscribe."""
    _listeners.append(listener)

    def unsubscribe() -> None:
        if listener in _listeners:
            _listeners.remove(listener)

    return unsubscribe


def emit(event: str, **fields: Any) -> None:
    """Tell every listener; cheap when nobody listens."""
    for listener in tuple(_listeners):
        try:
            listener(event, fields)
        except Exception:  # counting must never break what it counts
            log.exception("a listener failed on %s", event)

