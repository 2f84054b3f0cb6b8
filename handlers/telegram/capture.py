"""Reporting in a private chat: at once with text, step by step without, or by forwarding.

The step-by-step conversation keeps the draft in `user_data` until it is confirmed; the core
sees it only once, at the end, with a dedupe key from the confirming message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import (
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.ext import ConversationHandler

from bot.core.presentation import render
from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.service import Draft
from bot.core.shared.domain import Kind
from bot.core.shared.errors import VocError
from handlers.telegram import evidence
from handlers.telegram.buttons import decode
from handlers.telegram.common import Context, reply, text_message, voc, whoami

# Conversation states, named.
KIND, TEXT, CUSTOMER, SCORE, DEPARTMENT, CONFIRM = range(6)
END = ConversationHandler.END
ALBUM_TRIES, ALBUM_WAIT = 12, 0.25  # how long an album's item looks for the album's report


def dedupe_key(message: Message) -> str:
    """One Telegram message stores at most one signal, however often it is delivered."""
    return f"telegram:{message.chat_id}:{message.message_id}"


def _draft(context: Context) -> dict[str, Any]:
    assert context.user_data is not None
    draft: dict[str, Any] = context.user_data.setdefault("draft", {})
    return draft


async def _capture(update: Update, context: Context, draft: Draft) -> int:
    me, t = await whoami(update, context)
    result = await voc(context).service.submit_capture(me, draft)
    await reply(update, render.capture_reply(result.signal, t, duplicate=result.duplicate,
                                             refused=result.refused))
    if context.user_data is not None:
        context.user_data.pop("draft", None)
    return END


async def on_report_command(update: Update, context: Context) -> int:
    """/complaint|/praise|/idea [TEXT]: with text, store at once; without, ask for it."""
    message = update.effective_message
    assert message is not None and message.text is not None
    kind = message.text.split(None, 1)[0].lstrip("/").split("@")[0]
    text = message.text.split(None, 1)[1] if context.args else ""
    if text.strip():
        return await _capture(update, context, Draft(kind, text, dedupe_key=dedupe_key(message)))
    _me, t = await whoami(update, context)
    _draft(context).clear()
    _draft(context)["kind"] = kind
    await reply(update, text_message(t.gettext("What did the customer say? ")))
    return TEXT


async def on_report_caption(update: Update, context: Context) -> int:
    """A photo or file captioned /complaint|/praise|/idea [TEXT]: with text, store it with its
    files at once; without, keep the files and ask for the text. An album's later items join
    the report (on_album_item)."""
    message = update.effective_message
    assert message is not None and message.caption is not None
    kind = message.caption.split(None, 1)[0].lstrip("/").split("@")[0]
    parts = message.caption.split(None, 1)
    text = parts[1] if len(parts) > 1 else ""
    files = await evidence.files_of(context.bot, message)
    album = evidence.album_of(message)
    if text.strip():
        return await _capture(update, context, Draft(kind, text, dedupe_key=dedupe_key(message),
                                                     files=files, album=album))
    _me, t = await whoami(update, context)
    _draft(context).clear()
    _draft(context).update(kind=kind, files=list(files), album=album)
    await reply(update, text_message(t.gettext("What did the customer say? ")))
    return TEXT


async def on_media(update: Update, context: Context) -> int | None:
    """A file sent while a report is being written: kept with the draft. In answer to "What
    did the customer say?" its caption is the answer; the rest of an album joins silently."""
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    draft.setdefault("files", []).extend(await evidence.files_of(context.bot, message))
    album = evidence.album_of(message)
    later_in_album = album is not None and draft.get("album") == album
    draft["album"] = album or draft.get("album")
    if later_in_album:
        return None
    _me, t = await whoami(update, context)
    count = len(draft["files"])
    got = t.ngettext("Got %(count)d file.", "Got %(count)d files.", count) % {"count": count}
    if "text" not in draft and "kind" in draft:
        if message.caption and await _passes(update, context, "text", message.caption):
            draft["text"] = message.caption
            await reply(update, text_message(got + " " + t.gettext("Customer (optional): "),
                                             (Button("skip", "", t.gettext("Skip")),)))
            return CUSTOMER
        await reply(update, text_message(got + " " + t.gettext("What did the customer say? ")))
        return None
    await reply(update, text_message(got))
    return None


async def on_album_item(update: Update, context: Context) -> None:
    """A later photo or file of an album whose first item made a report: added to it."""
    message = update.effective_message
    assert message is not None
    album = evidence.album_of(message)
    me, t = await whoami(update, context)
    added = None
    if album is not None:
        files = await evidence.files_of(context.bot, message)
        # Webhooks may bring an album's items at once: the first one's report may still be
        # on its way (here or on another replica), so look again for a moment.
        for _ in range(ALBUM_TRIES):
            added = await asyncio.to_thread(voc(context).service.add_to_album, me, album,
                                            files, source=dedupe_key(message))
            if added.signal is not None:
                break
            await asyncio.sleep(ALBUM_WAIT)
    if added is None or added.signal is None:
        hinted: set[str] = context.chat_data.setdefault("hinted", set()) if (
            context.chat_data is not None) else set()
        if album is None or album not in hinted:
            if album is not None:
                hinted.add(album)
            await reply(update, text_message(t.gettext(
                "To report a file, send it with /complaint, /praise or /idea and the "
                "customer's words as its caption, or forward the customer's message.")))
        return
    if added.refused:
        await reply(update, OutboundMessage(
            title=added.signal.ref, footer=tuple("⚠ " + r.render(t) for r in added.refused)))


def _origin(message: Message) -> tuple[str | None, str | None]:
    """(customer, source link) of a forwarded message: who wrote it, and a public link."""
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name, None
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name, None
    if isinstance(origin, MessageOriginChannel):
        link = (f"https://t.me/{origin.chat.username}/{origin.message_id}"
                if origin.chat.username else None)
        return None, link
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title, None
    return None, None


async def on_forwarded(update: Update, context: Context) -> int:
    """A forwarded message: keep its text and origin, ask what kind of signal it is."""
    message = update.effective_message
    assert message is not None
    album = evidence.album_of(message)
    if album is not None and _draft(context).get("album") == album:  # the album's next item
        return await on_media(update, context) or KIND
    _me, t = await whoami(update, context)
    customer, link = _origin(message)
    _draft(context).clear()
    _draft(context).update(text=message.text or message.caption or "", customer=customer,
                           link=link, key=dedupe_key(message),
                           files=list(await evidence.files_of(context.bot, message)),
                           album=evidence.album_of(message))
    await reply(update, text_message(t.gettext("Is this a complaint, praise or an idea?"), tuple(
        Button("kind", "", render.kind_label(kind, t), value=kind.value) for kind in Kind)))
    return KIND


async def on_kind(update: Update, context: Context) -> int:
    """The kind of a forwarded message: store it at once with the suggested department (a
    forwarded photo without a caption: ask for the customer's words first)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    await query.edit_message_reply_markup(None)
    draft = _draft(context)
    if not str(draft.get("text") or "").strip():
        draft["kind"] = decode(query.data).value or ""
        draft.pop("text", None)
        _me, t = await whoami(update, context)
        await reply(update, text_message(t.gettext("What did the customer say? ")))
        return TEXT
    return await _capture(update, context, Draft(
        decode(query.data).value or "", draft.get("text", ""), customer=draft.get("customer"),
        source_link=draft.get("link"), dedupe_key=draft.get("key"),
        files=tuple(draft.get("files", ())), album=draft.get("album")))


async def on_text(update: Update, context: Context) -> int:
    """The customer's words; next, who the customer is."""
    message = update.effective_message
    assert message is not None
    _me, t = await whoami(update, context)
    if not await _passes(update, context, "text", message.text):
        return TEXT  # asked again: the refusal says why
    _draft(context)["text"] = message.text
    await reply(update, text_message(t.gettext("Customer (optional): "),
                                     (Button("skip", "", t.gettext("Skip")),)))
    return CUSTOMER


async def on_customer(update: Update, context: Context) -> int:
    """The customer (typed, or skipped); next, their 0-10 score."""
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    elif update.effective_message:
        typed = update.effective_message.text
        if not await _passes(update, context, "customer", typed):
            return CUSTOMER
        _draft(context)["customer"] = typed
    _me, t = await whoami(update, context)
    keypad = tuple(Button("value", "", str(v), value=str(v)) for v in range(11))
    await reply(update, text_message(t.gettext("Customer's score 0-10 (optional): "),
                                     (*keypad, Button("skip", "", t.gettext("Skip")))))
    return SCORE


async def on_score(update: Update, context: Context) -> int:
    """The score pressed (or skipped); next, the department, the suggested one first."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    await query.edit_message_reply_markup(None)
    return await _ask_department(update, context, decode(query.data).value)


async def on_score_typed(update: Update, context: Context) -> int:
    """A score typed instead of pressed: taken when capture would take it, else asked again."""
    typed = (update.effective_message.text if update.effective_message else None) or ""
    if not await _passes(update, context, "score", typed.strip()):
        return SCORE
    return await _ask_department(update, context, typed.strip())


async def on_typed_at_buttons(update: Update, context: Context) -> int | None:
    """Words typed where the bot waits for a button: say so, keep the report and the step."""
    _me, t = await whoami(update, context)
    await reply(update, text_message(t.gettext(
        "Please press one of the buttons above, or send /cancel to drop the report.")))
    return None  # the same step stays open


async def _ask_department(update: Update, context: Context, score: str | None) -> int:
    _draft(context)["score"] = score
    _me, t = await whoami(update, context)
    service = voc(context).service
    suggested = await asyncio.to_thread(service.suggest, _draft(context)["text"])
    others = await asyncio.to_thread(service.departments)
    ordered = [suggested, *(d for d in others if d.slug != suggested.slug)]
    _draft(context)["suggested"] = suggested.slug
    await reply(update, text_message(t.gettext("Which department should handle it?"), tuple(
        Button("department", "", ("✓ " if d is suggested else "") + t.department(d.slug, d.name),
               value=d.slug)
        for d in ordered)))
    return DEPARTMENT


async def on_department(update: Update, context: Context) -> int:
    """The department; last, the whole report to confirm."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    await query.edit_message_reply_markup(None)
    draft = _draft(context)
    draft["department"] = decode(query.data).value
    _me, t = await whoami(update, context)
    kind = render.kind_label(Kind(draft["kind"]), t)
    names = {d.slug: d.name for d in await asyncio.to_thread(voc(context).service.departments)}
    fields = [(t.gettext("Department"), names.get(draft["department"], draft["department"]))]
    if draft.get("customer"):
        fields.append((t.gettext("Customer"), draft["customer"]))
    if draft.get("score") is not None:
        fields.append((t.gettext("Customer score"), f"{draft['score']}/10"))
    await reply(update, OutboundMessage(
        title=t.gettext("Send this %(kind)s?") % {"kind": kind}, quote=draft["text"],
        fields=tuple(fields), buttons=(Button("send", "", t.gettext("Send")),
                                       Button("cancel", "", t.gettext("Cancel")))))
    return CONFIRM


async def on_confirm(update: Update, context: Context) -> int:
    """Send: the core stores and routes it (pressing twice stores it once)."""
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    await query.edit_message_reply_markup(None)
    draft = _draft(context)
    return await _capture(update, context, Draft(
        draft["kind"], draft["text"], customer=draft.get("customer"), score=draft.get("score"),
        source_link=draft.get("link"),
        # The suggestion kept is the suggestion (its reason stays "matched: ..."), no choice.
        department=None if draft.get("department") == draft.get("suggested")
        else draft.get("department"),
        dedupe_key=f"telegram:{query.message.chat.id}:{query.message.message_id}",
        files=tuple(draft.get("files", ())), album=draft.get("album")))


async def on_cancel(update: Update, context: Context) -> int:
    """/cancel, a Cancel button or another command: drop the draft."""
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    if context.user_data is not None:
        context.user_data.pop("draft", None)
        context.user_data.pop("pending", None)
    _me, t = await whoami(update, context)
    typed = update.effective_message.text if update.effective_message else None
    command = (typed or "").split(None, 1)[0].split("@")[0] if not update.callback_query else ""
    if command.startswith("/") and command != "/cancel":  # never swallowed without a word
        await reply(update, text_message(t.gettext(
            "Cancelled the report. Send %(command)s again to run it.") % {"command": command}))
    else:
        await reply(update, text_message(t.gettext("Cancelled.")))
    return END


async def _passes(update: Update, context: Context, field: str, value: str | None) -> bool:
    """Whether an answer passes capture's check for `field`; if not, the refusal is sent and
    the same question stays open (what was typed before is kept)."""
    try:
        voc(context).service.check_answer(field, value or "")
        return True
    except VocError as error:
        _me, t = await whoami(update, context)
        await reply(update, text_message("⚠ " + error.render(t)))
        return False
