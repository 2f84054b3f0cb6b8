"""Every button the bot renders (`voc:<action>:<n>`): act at once, or check and open a form."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.handling.rules import RULES, action_of
from bot.core.presentation import render
from bot.core.presentation.customer_story import story_reply
from bot.core.presentation.messages import OutboundMessage
from bot.core.service import VocService
from bot.core.shared.errors import NotFound
from bot.core.shared.i18n import N_, Translator
from handlers.slack import blocks as bk
from handlers.slack.app import SlackBot, Who


def register(app: AsyncApp, bot: SlackBot) -> None:
    """The buttons on cards, notes, pulses and replies."""

    @app.action(bk.ACTION_RE)
    async def pressed(ack: Any, body: dict[str, Any], action: dict[str, Any],
                      client: AsyncWebClient, respond: AsyncRespond) -> None:
        """Ack at once; act (or open the form) right after."""
        await ack()
        user_id = body["user"]["id"]
        bot.later(press(bot, client, respond, body, action),
                  send=bot.teller(client, respond, user_id))


async def press(bot: SlackBot, client: AsyncWebClient, respond: AsyncRespond,
                body: dict[str, Any], action: dict[str, Any]) -> OutboundMessage | None:
    """One button press; what went wrong, if anything, for the presser."""
    who = await bot.who(client, body["user"]["id"])
    return await bot.rendered(_press(bot, client, respond, body, action, who), who.t)


async def _press(bot: SlackBot, client: AsyncWebClient, respond: AsyncRespond,
                 body: dict[str, Any], action: dict[str, Any], who: Who) -> None:
    name, ref, value = bk.parse_button(action)
    case_action = action_of(name)
    if case_action is not None and RULES[case_action].asks_first:
        await open_form(bot, client, body, case_action, ref, who)
        return
    if name == "pulse" and value == "comment":
        await client.views_open(trigger_id=body["trigger_id"], view=bk.note_modal(
            who.t, "pulse_comment", ref, metadata=reply_to(body)))
        return
    message, replace = await bot.run(direct_action, bot.service, who.identity, who.t, name,
                                     ref, value)
    user_id = body["user"]["id"]
    await bot.tell(client, respond, user_id, message, replace=replace)
    bot.refresh_home(client, user_id)


def direct_action(service: VocService, me: str, t: Translator, name: str, ref: str,
                  value: str | None) -> tuple[OutboundMessage, bool]:
    """Buttons that need no form: (the confirmation, whether it replaces the message)."""
    if (action := action_of(name)) is not None:
        signal = service.perform(me, action, ref, value=value or "")
        return render.action_done(signal, action, t), False
    if name == "pulse":
        return render.pulse_thanks(service.answer_pulse(me, ref, value or ""), t), True
    if name == render.STORY:  # "This customer's story" on a card
        return story_reply(service.customer_story(me, f"#{value or ''}"), t), False
    raise NotFound(N_("This button is no longer supported."))


async def open_form(bot: SlackBot, client: AsyncWebClient, body: dict[str, Any],
                    action: str, ref: str, who: Who) -> None:
    """Refuse now if the core would refuse; otherwise ask for the note, reason or department."""
    signal = await bot.run(bot.service.check, who.identity, ref, action)
    metadata = reply_to(body)
    rule = RULES[action]
    departments = await bot.run(bot.service.departments) if rule.needs_department else []
    codes = (await bot.run(bot.service.resolution_codes, who.t.locale) if rule.asks_code
             else [])
    current = signal.department.slug
    if rule.note_prompt is None and not codes:
        view = bk.department_modal(who.t, signal.ref, departments, current, metadata)
    else:
        view = bk.note_modal(who.t, action, signal.ref, departments=departments,
                             current=current, metadata=metadata, codes=codes)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


def reply_to(body: dict[str, Any]) -> dict[str, Any]:
    """Where the confirmation of a form should go: the pressed message's response_url."""
    return {"response_url": body.get("response_url")}
