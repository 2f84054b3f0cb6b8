"""Block Kit rendering of platform-free messages, and the modals the Slack adapter opens.

Every string that reaches Slack as mrkdwn goes through `escape` first, so nothing a person types
(a complaint, a display name, a department name) can become a mention such as `<!channel>`, a
link or a user tag. Plain-text objects need no escaping: Slack never parses them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.core.handling.rules import rule_of
from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.presentation.views import DepartmentView
from bot.core.shared.domain import MAX_CASE_FILES, Kind
from bot.core.shared.i18n import N_, Translator

ACTION_PREFIX = "voc:"
ACTION_RE = re.compile(r"^voc:[a-z_]+:\d+$")
CAPTURE_VIEW = "voc_capture"
FILES = "files"  # the capture form's file field (block and action id)
NOTE_VIEW = "voc_note"  # resolve (note), reassign (department + reason), reopen (reason)
DEPARTMENT_VIEW = "voc_department"  # change department (the reporter's correction)
SHORTCUT = "report_to_voc"
STEP = "report_to_voc_step"  # the Workflow Builder step's callback_id (listeners/functions.py)

# Slack's limits (api.slack.com/reference/block-kit/blocks): text of a section, elements of an
# actions block, blocks of a message and of a view, length of a plain-text label.
SECTION_TEXT = 3000
ACTIONS_PER_BLOCK = 25
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
BUTTON_LABEL = 75
FALLBACK_TEXT = 3000
AUTO = "_auto"  # the department select's "use the suggestion" value


def escape(text: str) -> str:
    """Escape `&`, `<` and `>` as Slack asks: user text can never become a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int = BUTTON_LABEL) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit) or " ", "emoji": True}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(mrkdwn, SECTION_TEXT)}}


def _quote(text: str) -> str:
    return "\n".join("> " + escape(line) for line in text.splitlines() or [""])


def action_id(button: Button, index: int) -> str:
    """Unique within a message: `voc:<action>:<n>` (Slack refuses duplicate action ids)."""
    return f"{ACTION_PREFIX}{button.action}:{index}"


def button_value(button: Button) -> str:
    """What comes back when the button is pressed: the reference and the button's value."""
    return json.dumps({"ref": button.ref, "value": button.value}, separators=(",", ":"))


def parse_button(action: dict[str, Any]) -> tuple[str, str, str | None]:
    """(action, ref, value) of a pressed button, from its action_id and value."""
    name = str(action.get("action_id", ""))[len(ACTION_PREFIX):].rsplit(":", 1)[0]
    try:
        data = json.loads(action.get("value") or "{}")
    except ValueError:
        data = {}
    value = data.get("value")
    return name, str(data.get("ref", "")), None if value is None else str(value)


def button_blocks(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    """Actions blocks (25 buttons each at most) for a message's buttons."""
    elements = []
    for index, button in enumerate(buttons):
        element: dict[str, Any] = {"type": "button", "action_id": action_id(button, index),
                                   "text": _plain(button.label), "value": button_value(button)}
        if button.style in ("primary", "danger"):
            element["style"] = button.style
        elements.append(element)
    return [{"type": "actions", "elements": elements[i:i + ACTIONS_PER_BLOCK]}
            for i in range(0, len(elements), ACTIONS_PER_BLOCK)]


def message_blocks(message: OutboundMessage, *, limit: int = MESSAGE_BLOCKS
                   ) -> list[dict[str, Any]]:
    """A card or note as Block Kit: title, quote, fields, link, buttons, then the history."""
    head = f"*{escape(message.title)}*"
    if message.quote:
        head += "\n" + _quote(message.quote)
    blocks = [_section(head)]
    if message.fields:
        blocks.append(_section("\n".join(f"*{escape(label)}:* {escape(value)}"
                                          for label, value in message.fields)))
    if message.link:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _clip(escape(message.link), SECTION_TEXT)}]})
    actions = button_blocks(message.buttons)
    footer = [{"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(
        escape(line), SECTION_TEXT)}]} for line in message.footer]
    room = limit - len(blocks) - len(actions)
    if len(footer) > room:  # keep the newest history lines; buttons always fit
        footer = footer[-room:] if room > 0 else []
    return [*blocks, *footer, *actions][:limit]


def fallback_text(message: OutboundMessage) -> str:
    """The notification text (shown where blocks cannot be): plain, escaped, short."""
    return _clip(escape(message.plain_text()), FALLBACK_TEXT)


def home_view(t: Translator, sections: Sequence[OutboundMessage]) -> dict[str, Any]:
    """App Home: each part (my reports, my department's queue) under a divider."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(
        t.gettext("Voice of the customer"), 150)}]
    for part in sections:
        blocks.append({"type": "divider"})
        room = VIEW_BLOCKS - len(blocks)
        blocks.extend(message_blocks(part, limit=min(room, MESSAGE_BLOCKS)))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS]}


# -- modals -----------------------------------------------------------------------------------
def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value}


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False,
           hint: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "label": _plain(label, 2000),
                             "element": element, "optional": optional}
    if hint:
        block["hint"] = _plain(hint, 2000)
    return block


def _text_input(action: str, *, multiline: bool = False, initial: str | None = None,
                max_length: int | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action,
                               "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    if max_length:
        element["max_length"] = max_length
    return element


def _department_select(t: Translator, departments: Sequence[DepartmentView], *,
                       selected: str | None, auto: bool) -> dict[str, Any]:
    options = [_option(t.gettext("Suggested from the text"), AUTO)] if auto else []
    options += [_option(t.department(d.slug, d.name), d.slug)
                for d in departments][:100 - len(options)]
    element: dict[str, Any] = {"type": "static_select", "action_id": "department",
                               "options": options}
    chosen = next((o for o in options if o["value"] == selected), None)
    if chosen is None and auto:
        chosen = options[0]
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _modal(callback_id: str, title: str, submit: str, t: Translator, blocks: list[Any],
           metadata: dict[str, Any]) -> dict[str, Any]:
    return {"type": "modal", "callback_id": callback_id, "title": _plain(title, 24),
            "submit": _plain(submit, 24), "close": _plain(t.gettext("Cancel"), 24),
            "private_metadata": json.dumps(metadata, separators=(",", ":"))[:3000],
            "blocks": blocks}


def capture_modal(t: Translator, departments: Sequence[DepartmentView], *,
                  text: str | None = None, link: str | None = None,
                  suggested: str | None = None, channel: str | None = None,
                  files: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The capture form: kind, text, customer, score, department (suggested), anonymous,
    files (those of the reported message are listed and come along)."""
    kinds = [(Kind.COMPLAINT, t.gettext("Complaint")), (Kind.PRAISE, t.gettext("Praise")),
             (Kind.IDEA, t.gettext("Idea"))]
    kind_options = [_option(label, kind.value) for kind, label in kinds]
    blocks = [
        _input("kind", t.gettext("Kind"), {"type": "radio_buttons", "action_id": "kind",
                                           "options": kind_options,
                                           "initial_option": kind_options[0]}),
        _input("text", t.gettext("What did the customer say?"),
               _text_input("text", multiline=True, initial=text)),
        _input("customer", t.gettext("Customer"), _text_input("customer"), optional=True,
               hint=t.gettext("Name or account, if you know it")),
        _input("score", t.gettext("Customer's score 0-10"), _text_input("score"),
               optional=True),
        _input("department", t.gettext("Department"),
               _department_select(t, departments, selected=suggested, auto=suggested is None)),
        _input("anonymous", t.gettext("Anonymous"), {
            "type": "checkboxes", "action_id": "anonymous", "options": [_option(
                t.gettext("Hide my name from the department"), "yes")]}, optional=True),
        _input(FILES, t.gettext("Photos or documents"), {
            "type": "file_input", "action_id": FILES, "max_files": MAX_CASE_FILES},
               optional=True),
    ]
    if files:  # the reported message's own files
        names = ", ".join(str(f.get("name") or f.get("id")) for f in files)
        blocks.insert(2, {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(
            t.gettext("Attached from the message: %(names)s") % {"names": escape(names)},
            2000)}]})
    return _modal(CAPTURE_VIEW, t.gettext("Report to VoC"), t.gettext("Report"), t, blocks,
                  {"link": link, "suggested": suggested, "channel": channel,
                   "files": file_ids(files)})


# The note forms of what is not an action on a case: (title, submit button, field label).
PULSE_COMMENT_FORM = (N_("Add a comment"), N_("Send"), N_("Comment"))


def note_modal(t: Translator, action: str, ref: str, *, departments: Sequence[DepartmentView]
               = (), current: str | None = None, metadata: dict[str, Any] | None = None,
               codes: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """Resolve (a required note), reassign (department + reason), reopen (a reason), a
    question to the reporter or the reporter's answer. Resolve also asks for a resolution
    code when the company keeps them (`codes`: code, label)."""
    rule = rule_of(action)  # None: a pulse answer's comment
    blocks = []
    if codes:
        blocks.append(_input("code", t.gettext("What caused it?"), {
            "type": "static_select", "action_id": "code",
            "placeholder": _plain(t.gettext("Resolution code")),
            "options": [_option(label, code) for code, label in codes][:100]}))
    if rule is not None and rule.needs_department:
        choices = [d for d in departments if d.slug != current]
        blocks.append(_input("department", t.gettext("Department"),
                             _department_select(t, choices, selected=None, auto=False)))
    form = rule.form if rule is not None and rule.form is not None else PULSE_COMMENT_FORM
    title, submit, label = (t.gettext(text) for text in form)
    multiline = rule is None or not rule.one_line
    blocks.append(_input("note", label, _text_input("note", multiline=multiline,
                                                      max_length=2000)))
    return _modal(NOTE_VIEW, title % {"ref": ref}, submit, t, blocks,
                  {"action": action, "ref": ref, **(metadata or {})})


def department_modal(t: Translator, ref: str, departments: Sequence[DepartmentView],
                     current: str | None, metadata: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
    """The reporter's "Change department" form."""
    choices = [d for d in departments if d.slug != current]
    blocks = [_input("department", t.gettext("Department"),
                     _department_select(t, choices, selected=None, auto=False))]
    return _modal(DEPARTMENT_VIEW, t.gettext("Change department"), t.gettext("Move"), t,
                  blocks, {"action": "change_department", "ref": ref, **(metadata or {})})


def file_ids(files: Sequence[dict[str, Any]] | None) -> list[str]:
    """The ids of a message's or a file field's files (what a form's metadata can carry; a
    few past the case's limit, so the ones refused are named)."""
    return [str(f["id"]) for f in files or () if isinstance(f, dict) and f.get("id")][
        :MAX_CASE_FILES + 5]


def view_files(view: dict[str, Any]) -> list[str]:
    """The ids of a submitted capture form's files: the reported message's, then the file
    field's."""
    state = ((view.get("state") or {}).get("values") or {}).get(FILES) or {}
    uploaded = [f for entry in state.values() for f in entry.get("files") or ()]
    return [*view_metadata(view).get("files", []), *file_ids(uploaded)]


def view_values(view: dict[str, Any]) -> dict[str, Any]:
    """A submitted view's inputs by block id: text, the selected value(s) of selects/boxes."""
    values: dict[str, Any] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for state in actions.values():
            if "selected_options" in state:
                values[block_id] = [o.get("value") for o in state["selected_options"] or []]
            elif "selected_option" in state:
                values[block_id] = (state["selected_option"] or {}).get("value")
            else:
                values[block_id] = state.get("value")
    return values


def view_metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The private metadata a modal was opened with."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
