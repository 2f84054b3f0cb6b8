"""The shape of a signed Slack request, checked before Bolt reads it: the fields our
listeners and Bolt's own middleware rely on must be there with their types. Slack always sends
them; a request without them (a bug upstream, or someone holding the signing secret) gets a
400 and a one-line warning instead of a 500 and a traceback.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs


def misshapen(body: bytes, content_type: str) -> str | None:
    """Why a request's body is not one Slack sends, or None."""
    text = body.decode("utf-8", "replace")
    if "json" in content_type:
        return _event(_json(text))
    form = {key: values[-1] for key, values in parse_qs(text).items()}
    if "payload" in form:
        return _interaction(_json(form["payload"]))
    if "command" in form:
        missing = [key for key in ("user_id", "trigger_id") if not form.get(key)]
        return f"a slash command without {', '.join(missing)}" if missing else None
    return None  # ssl_check and the like: Bolt answers them


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _event(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return "not an object with a type"
    if body["type"] != "event_callback":
        return None
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "an event_callback whose event is not an object with a type"
    if not isinstance(event.get("user", ""), str):
        return "an event whose user is not an id"
    return None


_NEEDS = {"block_actions": ("actions", list), "view_submission": ("view", dict),
          "view_closed": ("view", dict), "message_action": ("message", dict)}


def _interaction(payload: Any) -> str | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return "a payload that is not an object with a type"
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return f"a {payload['type']} payload without a user id"
    key, kind = _NEEDS.get(payload["type"], (None, object))
    if key is not None and not isinstance(payload.get(key), kind):
        return f"a {payload['type']} payload whose {key} is not a {kind.__name__}"
    if payload["type"] == "block_actions" and not all(
            isinstance(action, dict) for action in payload["actions"]):
        return "a block_actions payload whose actions are not objects"
    return None
