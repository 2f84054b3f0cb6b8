"""Buttons on Telegram: compact callback data (64 bytes at most) and inline keyboards."""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.presentation.messages import Button

CALLBACK_LIMIT = 64  # bytes: Telegram refuses longer callback_data
MAX_BUTTONS = 100  # Telegram's limit per inline keyboard
# Core actions get one-letter codes; any other action travels under its own name, so actions
# added later (e.g. "pulse") work without touching this table.
CODES = {"ack": "a", "resolve": "r", "reassign": "x", "change_department": "c", "rate": "n",
         "reopen": "o", "pulse": "p"}
ACTIONS = {code: action for action, code in CODES.items()}
_REF = re.compile(r"VOC-(\d+)")
SEPARATOR = "|"


def encode(button: Button) -> str:
    """`code|ref|value`, with VOC- dropped from the reference: `a|123|`."""
    ref = match.group(1) if (match := _REF.fullmatch(button.ref)) else button.ref
    code = CODES.get(button.action, button.action)
    data = SEPARATOR.join((code, ref, button.value or ""))
    if SEPARATOR in button.action or SEPARATOR in ref or len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"button {button.action}/{button.ref} does not fit Telegram's "
                         f"{CALLBACK_LIMIT}-byte callback data")
    return data


def decode(data: str) -> Button:
    """The button back from its callback data (its label is not carried: empty)."""
    code, ref, value = [*data.split(SEPARATOR, 2), "", ""][:3]
    return Button(ACTIONS.get(code, code), f"VOC-{ref}" if ref.isdecimal() else ref, "",
                  value=value or None)


def pattern(*actions: str) -> str:
    """A CallbackQueryHandler pattern matching buttons of these actions."""
    codes = "|".join(re.escape(CODES.get(a, a)) for a in actions)
    return rf"^(?:{codes})\{SEPARATOR}"


def _per_row(button: Button) -> int:
    if button.value is not None and button.value.isdecimal():
        return 6  # a 0-10 keypad: two rows
    return 2 if button.value is not None else 3  # pickers have long labels


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Rows of buttons: a keypad, a picker, or each reference's actions together."""
    rows: list[list[InlineKeyboardButton]] = []
    previous: Button | None = None
    for button in buttons[:MAX_BUTTONS]:
        same_group = previous is not None and previous.ref == button.ref and (
            _per_row(previous) == _per_row(button))
        if not rows or not same_group or len(rows[-1]) >= _per_row(button):
            rows.append([])
        rows[-1].append(InlineKeyboardButton(button.label, callback_data=encode(button)))
        previous = button
    return InlineKeyboardMarkup(rows) if rows else None
