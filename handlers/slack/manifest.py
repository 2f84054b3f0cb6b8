"""The Slack app manifest `voc slack-manifest` prints (api.slack.com/reference/manifests)."""

from __future__ import annotations

import json
from typing import Any

from handlers.slack.blocks import SHORTCUT, STEP

# Each scope, and why the bot needs it.
BOT_SCOPES = {
    "commands": "the /voc command and the Report to VoC shortcut",
    "chat:write": "department cards, their updates, replies and DMs",
    "im:write": "opening a DM with a reporter (to look for a message after a crash)",
    "users:read": "each person's name and language (users.info)",
    "channels:history": "after a crash, check whether a card already reached a public channel",
    "groups:history": "the same for private channels",
    "im:history": "the same for DMs",
    "files:write": "the digest's files (chart, Excel workbook) and reports' files in card "
                   "threads",
    "files:read": "downloading the files of a reported message or of the report form",
}


# The Workflow Builder step "Report to VoC" (handlers/slack/listeners/functions.py).
REPORT_STEP: dict[str, Any] = {
    "title": "Report to VoC",
    "description": "Report what a customer said to the department that owns it",
    "input_parameters": {
        "kind": {"type": "string", "title": "Kind", "is_required": True,
                 "description": "complaint, praise or idea",
                 "enum": ["complaint", "praise", "idea"],
                 "choices": [{"value": "complaint", "title": "Complaint"},
                             {"value": "praise", "title": "Praise"},
                             {"value": "idea", "title": "Idea"}]},
        "text": {"type": "string", "title": "What the customer said", "is_required": True,
                 "description": "In the customer's words, as far as possible"},
        "customer": {"type": "string", "title": "Customer", "is_required": True,
                     "description": "Name or account of the customer"},
        "reporter": {"type": "slack#/types/user_id", "title": "Reporter", "is_required": True,
                     "description": "Who reports it: they get the updates"},
        "department": {"type": "string", "title": "Department", "is_required": False,
                       "description": "Its slug (e.g. logistics); empty: the bot suggests one"},
    },
    "output_parameters": {
        "reference": {"type": "string", "title": "Reference", "is_required": True,
                      "description": "The report's reference, like VOC-12"},
    },
}


def manifest(url: str | None = None, *, name: str = "VoC") -> dict[str, Any]:
    """The manifest: HTTP mode with `url` (the public https base of `voc serve`), else Socket
    Mode for `voc run`."""
    events = f"{url.rstrip('/')}/slack/events" if url else None
    command: dict[str, Any] = {
        "command": "/voc", "description": "Report what a customer said, see your queue",
        "usage_hint": "complaint|praise|idea TEXT · mine · queue · digest · help",
        "should_escape": False}
    interactivity: dict[str, Any] = {"is_enabled": True}
    event_subscriptions: dict[str, Any] = {"bot_events": ["app_home_opened",
                                                          "function_executed"]}
    if events:
        command["url"] = events
        interactivity["request_url"] = events
        event_subscriptions["request_url"] = events
    return {
        "_metadata": {"major_version": 2, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Closes the voice-of-the-customer loop across departments",
            "background_color": "#1d4f91"},
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": True,
                         "messages_tab_read_only_enabled": True},
            "bot_user": {"display_name": name.lower(), "always_online": True},
            "slash_commands": [command],
            "shortcuts": [{"name": "Report to VoC", "type": "message",
                           "callback_id": SHORTCUT,
                           "description": "Report this message as customer feedback"}],
        },
        "functions": {STEP: REPORT_STEP},
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": event_subscriptions,
            "function_runtime": "remote",  # the step runs here (Bolt), not on Slack's servers
            "interactivity": interactivity,
            # Workflow Builder steps are for org-ready apps only (Slack's rule).
            "org_deploy_enabled": True,
            "socket_mode_enabled": events is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_json(url: str | None = None) -> str:
    """The manifest as JSON, ready to paste into "Create an app → From a manifest"."""
    return json.dumps(manifest(url), indent=2, ensure_ascii=False)
