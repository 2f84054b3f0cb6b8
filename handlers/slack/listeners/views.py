"""Form submissions: the report form, and the note / reason / department forms of buttons."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.handling.rules import action_of
from bot.core.presentation import render
from bot.core.presentation.messages import OutboundMessage
from bot.core.service import Draft, VocService
from bot.core.shared.errors import NotFound, as_refusal
from bot.core.shared.i18n import N_, Translator
from handlers.slack import blocks as bk
from handlers.slack import evidence
from handlers.slack.app import SlackBot
from handlers.slack.listeners.commands import captured_reply, not_answering


def register(app: AsyncApp, bot: SlackBot) -> None:
    """Submissions of the capture form and of the note/reason/department forms."""

    @app.view(bk.CAPTURE_VIEW)
    async def captured(ack: Any, body: dict[str, Any], view: dict[str, Any],
                       client: AsyncWebClient) -> None:
        """Field errors inline in the person's language; otherwise close and store."""
        user_id = body["user"]["id"]
        who = await bot.who(client, user_id)
        draft = _draft(view)
        problems = bot.service.draft_problems(draft)
        if problems:
            await ack(response_action="errors",
                      errors={field: error.render(who.t) for field, error in problems.items()})
            return
        await ack()
        # Slack has closed the form: the reporter hears by DM, their words back on a failure.
        ids = bk.view_files(view)
        files = evidence.download(client, ids) if ids else None
        bot.later(captured_reply(bot, who, draft, files), who.t,
                  send=bot.teller(client, None, user_id), late=not_answering(who.t, draft.text))
        bot.refresh_home(client, user_id)

    @app.view(bk.NOTE_VIEW)
    async def noted(ack: Any, body: dict[str, Any], view: dict[str, Any],
                    client: AsyncWebClient) -> None:
        """Resolve, reassign, reopen or a pulse comment: errors inline, else confirm."""
        await submitted(bot, ack, body, view, client)

    @app.view(bk.DEPARTMENT_VIEW)
    async def moved(ack: Any, body: dict[str, Any], view: dict[str, Any],
                    client: AsyncWebClient) -> None:
        """The reporter's change of department."""
        await submitted(bot, ack, body, view, client)


def _draft(view: dict[str, Any]) -> Draft:
    values, meta = bk.view_values(view), bk.view_metadata(view)
    department = values.get("department")
    if department in (bk.AUTO, meta.get("suggested")):
        department = None  # the suggestion stands: keep its reason ("matched: ...")
    return Draft(values.get("kind") or "", values.get("text") or "",
                 customer=values.get("customer"), score=values.get("score"),
                 anonymous=bool(values.get("anonymous")), source_link=meta.get("link"),
                 department=department, dedupe_key=f"slack:view:{view.get('id')}")


async def submitted(bot: SlackBot, ack: Any, body: dict[str, Any], view: dict[str, Any],
                    client: AsyncWebClient) -> None:
    """A form's core call before the ack, so a refusal shows inline under its field, the form
    stays open with what they typed, and nothing changes. A call slower than the ack budget
    is confirmed later."""
    user_id = body["user"]["id"]
    who = await bot.who(client, user_id)
    values, meta = bk.view_values(view), bk.view_metadata(view)
    action, ref = str(meta.get("action", "")), str(meta.get("ref", ""))
    task = asyncio.ensure_future(bot.run(form_call, bot.service, who.identity, who.t, action,
                                         ref, values))
    done, _ = await asyncio.wait({task}, timeout=bot.ack_budget)
    error = task.exception() if task in done else None
    refusal = as_refusal(error) if error is not None else None
    if refusal is not None:
        field = refusal.field if refusal.field in values else next(iter(values), "note")
        await ack(response_action="errors", errors={field: refusal.render(who.t)})
        return
    await ack()
    respond = AsyncRespond(response_url=meta.get("response_url"))
    bot.later(task, who.t, send=bot.teller(client, respond, user_id),
              late=not_answering(who.t, None))
    bot.refresh_home(client, user_id)


def form_call(service: VocService, me: str, t: Translator, action: str, ref: str,
              values: dict[str, Any]) -> OutboundMessage:
    """The core call behind a submitted form, rendered."""
    note = values.get("note") or ""
    if (case_action := action_of(action)) is not None:
        signal = service.perform(me, case_action, ref, text=note,
                                 department=values.get("department") or "",
                                 value=values.get("code") or "")
        return render.action_done(signal, case_action, t)
    if action == "pulse_comment":
        return render.pulse_thanks(service.answer_pulse(me, ref, "comment", comment=note), t)
    raise NotFound(N_("This form is no longer supported."))


