"""The Workflow Builder step "Report to VoC" (a custom step: Bolt's `app.function`).

Any team adds it to a workflow of theirs (a form, an emoji reaction, a message in a channel...)
and maps its inputs: kind, text, customer, reporter (a user), and optionally the department.
The step captures the report as the reporter had typed `/voc`, then ends with the reference as
its output (`complete`) or with the reason it could not (`fail`), in the reporter's language.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.service import Draft
from bot.core.shared.identity import is_valid_identity
from handlers.slack.app import SlackBot
from handlers.slack.blocks import STEP

log = logging.getLogger(__name__)


def register(app: AsyncApp, bot: SlackBot) -> None:
    """The custom step."""

    @app.function(STEP)  # Bolt acknowledges the event itself (auto_acknowledge)
    async def report_step(event: dict[str, Any], inputs: dict[str, Any], client: AsyncWebClient,
                          complete: AsyncComplete, fail: AsyncFail) -> None:
        """Capture the step's report after Slack has been answered; complete or fail it."""
        bot.later(_report(bot, client, event, inputs, complete, fail))


async def _report(bot: SlackBot, client: AsyncWebClient, event: dict[str, Any],
                  inputs: dict[str, Any], complete: AsyncComplete, fail: AsyncFail) -> None:
    execution = str(event.get("function_execution_id", ""))
    reporter = str(inputs.get("reporter") or "").strip()
    if not is_valid_identity(f"slack:{reporter}"):
        t = bot.service.translator()  # nobody to ask: the company's language
        await _end(execution, fail(
            t.gettext("Report to VoC needs a reporter: map the step's 'Reporter' input to a "
                      "person in the workflow.") if not reporter else
            t.gettext("Report to VoC needs a person as its reporter, not “%(value)s”: map the "
                      "step's 'Reporter' input to a person in the workflow.")
            % {"value": reporter[:40]}))
        return
    who = await bot.who(client, reporter)
    try:
        department = str(inputs.get("department") or "").strip()
        slug = (await bot.run(bot.service.find_department, department)).slug if department \
            else None
        draft = Draft(kind=str(inputs.get("kind") or "").strip().lower(),
                      text=str(inputs.get("text") or ""),
                      customer=str(inputs.get("customer") or "").strip() or None,
                      department=slug, dedupe_key=f"slack-step:{execution}"[:120])
        result = await bot.service.submit_capture(who.identity, draft)
    except Exception as error:  # the refusal in the reporter's words, or a bug (logged)
        message = bot.failure(error, who.t)
        await _end(execution, fail(who.t.gettext("Report to VoC could not store this report: "
                                                 "%(why)s") % {"why": message.plain_text()}))
        return
    await _end(execution, complete({"reference": result.signal.ref}))


async def _end(execution: str, ending: Awaitable[Any]) -> None:
    """Complete or fail the step; Slack ends a step once, so a replayed event's second ending
    is refused, and that is no error of ours (its report was stored once)."""
    try:
        await ending
    except SlackApiError as error:
        if error.response.get("error") != "function_execution_already_completed":
            raise
        log.info("workflow step %s had already ended (a replayed event): nothing more to do",
                 execution)
