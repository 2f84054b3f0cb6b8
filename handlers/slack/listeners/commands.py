"""`/voc`: report at once, answer a list, or open the report form."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.presentation import render
from bot.core.presentation.customer_story import customer_reply
from bot.core.presentation.messages import OutboundMessage
from bot.core.service import Draft, IncomingFile
from bot.core.shared.errors import Unavailable, as_refusal
from bot.core.shared.i18n import N_, Translator
from handlers.slack import blocks as bk
from handlers.slack.app import SlackBot, Who

HELP = N_("""*/voc* — the voice of the customer
• `/voc complaint|praise|idea TEXT` — report at once (the department is suggested)
• `/voc` — the report form (kind, text, customer, score, department, anonymous)
• `/voc score N [COMMENT]` — record a customer's 0-10 score
• `/voc mine` — your reports and their status
• `/voc queue [DEPARTMENT]` — a department's open items, overdue first
• `/voc show VOC-N` — one item with its history
• `/voc digest` — this week's digest (leadership)
• `/voc customer NAME` — a customer's story across departments
• Message menu → *Report to VoC* — report a message as it is""")
LISTS = ("help", "mine", "queue", "show", "score", "digest", "customer")  # every other word reports


def register(app: AsyncApp, bot: SlackBot) -> None:
    """`/voc` and its subcommands."""

    @app.command("/voc")
    async def voc(ack: Any, command: dict[str, Any], client: AsyncWebClient,
                  respond: AsyncRespond) -> None:
        """Capture at once, answer a list, or open the capture form."""
        user_id = command["user_id"]
        word, _, rest = (command.get("text") or "").strip().partition(" ")
        word, rest = word.lower(), rest.strip()
        if not word:
            await ack()  # trigger_id lives 3 s: the form opens right after the ack
            bot.later(open_capture(bot, client, user_id, command["trigger_id"],
                                   channel=command.get("channel_id"), respond=respond))
            return
        who = await bot.who(client, user_id)
        if word == "help":
            await ack(**bot.reply(OutboundMessage(title=who.t.gettext(HELP))))
            return
        work = subcommand(bot, who, word, rest,
                          dedupe_key=f"slack:command:{command.get('trigger_id')}")
        late = not_answering(who.t, None if word in LISTS else rest)
        await bot.answer(ack, work, who.t, respond=respond, late=late)


def subcommand(bot: SlackBot, who: Who, word: str, rest: str, *, dedupe_key: str
               ) -> Awaitable[OutboundMessage]:
    """The core call behind `/voc WORD REST`, rendered."""
    service, t, me = bot.service, who.t, who.identity
    if word == "mine":
        return bot.run(lambda: render.mine_reply(service.mine(me), t))
    if word == "queue":
        return bot.run(lambda: render.queue_reply(service.queue(me, rest or None), t))
    if word == "show":
        return bot.run(lambda: render.detail_reply(service.show(me, rest), t))
    if word == "score":
        value, _, comment = rest.partition(" ")
        return bot.run(lambda: render.score_reply(service.record_score(
            me, value, comment=comment or None, dedupe_key=dedupe_key), t))
    if word == "digest":
        return bot.run(lambda: service.digest_preview(me))
    if word == "customer":
        return bot.run(lambda: customer_reply(service.customer(me, rest), t))
    return captured_reply(bot, who, Draft(word, rest, dedupe_key=dedupe_key))


async def captured_reply(bot: SlackBot, who: Who, draft: Draft,
                         files: Awaitable[tuple[IncomingFile, ...]] | None = None
                         ) -> OutboundMessage:
    """Store a report (with its `files`, downloaded first); the reporter's answer, or why it
    was not stored with their words back (after Slack was answered, this message is all they
    will know)."""
    try:
        if files is not None:
            draft = replace(draft, files=await files)
        result = await bot.service.submit_capture(who.identity, draft)
    except Exception as error:
        refusal = as_refusal(error)
        if refusal is not None and not isinstance(refusal, Unavailable):
            return bot.refusal(refusal, who.t)  # a bad field: the answer says which
        reason = bot.failure(error, who.t).title.removeprefix("⚠ ")
        return render.capture_failed(draft.text, reason, who.t)
    return render.capture_reply(result.signal, who.t, duplicate=result.duplicate,
                                refused=result.refused)


def not_answering(t: Translator, draft_text: str | None) -> OutboundMessage:
    """What a person hears when the database keeps their request past the bot's patience (a
    report's words come back with it)."""
    reason = Unavailable().render(t)
    if draft_text is not None:
        return render.capture_failed(draft_text, reason, t)
    return OutboundMessage(title="⚠ " + reason)


async def open_capture(bot: SlackBot, client: AsyncWebClient, user_id: str, trigger_id: str,
                       *, text: str | None = None, link: str | None = None,
                       channel: str | None = None, files: Sequence[dict[str, Any]] = (),
                       respond: AsyncRespond | None = None) -> None:
    """The capture form, the suggested department preselected when the text is known. Slack
    has had its (empty) ack already: if the database fails or keeps the form past the bot's
    patience, the person is told so, through `respond` or by DM."""
    who = await bot.who(client, user_id)

    async def form() -> None:
        departments = await bot.run(bot.service.departments)
        suggested = None
        if text and text.strip():
            suggested = (await bot.run(bot.service.suggest, text)).slug
        await client.views_open(trigger_id=trigger_id, view=bk.capture_modal(
            who.t, departments, text=text, link=link, suggested=suggested, channel=channel,
            files=files))

    bot.later(form(), who.t, send=lambda message: bot.tell(client, respond, user_id, message),
              late=not_answering(who.t, None))
