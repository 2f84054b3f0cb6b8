"""Refusals about customers: an English template and its values, shown in the reader's
language where they are shown; nothing changed when one is raised."""

from __future__ import annotations

from typing import Any, Protocol


def N_(message: str) -> str:
    """Mark a message for translation (the reader's language is chosen where it is shown)."""
    return message


class Gettext(Protocol):
    """What renders a problem: a translator of the reader's language."""

    def gettext(self, message: str) -> str: ...


class CustomerProblem(Exception):
    """A refusal about customers, with an English template and its values; nothing changed."""

    def __init__(self, message: str, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(message % params if params else message)

    def render(self, translator: Gettext) -> str:
        """The refusal in the reader's language."""
        template = translator.gettext(self.message)
        return template % self.params if self.params else template
