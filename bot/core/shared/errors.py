"""Refusals the core can give. Adapters render them in the user's language; nothing changes."""

from __future__ import annotations

from typing import Any, Self

from bot.core.shared.i18n import N_, DepartmentName, Translator
from storage.db import StoreUnavailable


class VocError(Exception):
    """A refusal with an English message template (msgid) and its parameters."""

    code = "error"
    field: str | None = None  # the form field it is about (forms show it next to that field)

    def __init__(self, message: str, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(message % params if params else message)

    def at(self, field: str) -> Self:
        """The same refusal, about the form field `field`."""
        self.field = field
        return self

    def render(self, translator: Translator) -> str:
        """The refusal in the reader's language."""
        template = translator.gettext(self.message)
        if not self.params:
            return template
        return template % {key: translator.named(value) if isinstance(value, DepartmentName)
                           else value for key, value in self.params.items()}


class InvalidInput(VocError):
    """The input is malformed or out of range (empty text, a score of 11, ...)."""

    code = "invalid_input"


class NotFound(VocError):
    """The signal, department or person does not exist."""

    code = "not_found"


class Forbidden(VocError):
    """The actor lacks the right (not a head of the owning department, not the reporter, ...)."""

    code = "forbidden"


class InvalidTransition(VocError):
    """The signal is not in a state where this action makes sense."""

    code = "invalid_transition"


class Unavailable(VocError):
    """The database did not answer (down, locked, full, too slow): nothing was changed."""

    code = "unavailable"

    def __init__(self) -> None:
        super().__init__(N_("The bot cannot reach its database right now, so nothing was saved "
                            "or changed. Please try again in a few minutes."))


def as_refusal(error: BaseException) -> VocError | None:
    """What to tell the person for `error`: a refusal as it is, a database outage as
    Unavailable; None for anything else (a bug: log it, say something went wrong)."""
    if isinstance(error, VocError):
        return error
    if isinstance(error, StoreUnavailable):
        return Unavailable()
    return None
