"""The Bolt app: `/voc`, the "Report to VoC" shortcut, buttons, modals and App Home.

Listeners are thin: acknowledge Slack, translate the payload, make one core call in a worker
thread, render the result. Rules (who may act, what state allows what) live in the core; a
refusal comes back as a `VocError` and is shown to that person only.

Slack wants an answer within 3 seconds. The app runs with `process_before_response=True` (the
default mode polls for the ack every 10 ms, a floor of ~11 ms per request), so the HTTP answer
leaves when the listener returns: listeners that answer with content (a capture's reference, a
queue) do the core call first under `ACK_BUDGET` and fall back to answering through
`response_url` if the database is slow; everything else acks at once and works in the
background (`SlackBot.later`), e.g. `views.open` right after the ack (a trigger_id lives 3 s).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import render
from bot.core.actions import RULES, Action, action_of
from bot.core.errors import NotFound, Unavailable, VocError, as_refusal
from bot.core.i18n import N_, Translator, normalise_locale
from bot.core.messages import OutboundMessage
from bot.core.service import Draft, VocService
from handlers.slack import blocks as bk
from storage.db import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
ACK_BUDGET = 2.0  # seconds a listener may spend before answering Slack some other way
LOCALE_TTL = 3600.0  # how long users.info answers are trusted
PATIENCE = 45.0  # seconds after the ack before a person hears that the database is not answering

HELP = N_("""*/voc* — the voice of the customer
• `/voc complaint|praise|idea TEXT` — report at once (the department is suggested)
• `/voc` — the report form (kind, text, customer, score, department, anonymous)
• `/voc score N [COMMENT]` — record a customer's 0-10 score
• `/voc mine` — your reports and their status
• `/voc queue [DEPARTMENT]` — a department's open items, overdue first
• `/voc show VOC-N` — one item with its history
• `/voc digest` — this week's digest (leadership)
• Message menu → *Report to VoC* — report a message as it is""")



@dataclass
class Who:
    """The person behind a Slack user id, in their language."""

    identity: str
    t: Translator


class SlackBot:
    """State shared by the listeners: the core, the users.info cache and background work."""

    def __init__(self, service: VocService, *, ack_budget: float = ACK_BUDGET,
                 locale_ttl: float = LOCALE_TTL, patience: float = PATIENCE) -> None:
        self.service = service
        # Core calls run in worker threads. SQLite has one writer at a time: a single thread
        # queues them without the busy-wait sleeps (up to 100 ms each) of competing threads,
        # which made the latency tail. PostgreSQL works in parallel, up to its pool size.
        sqlite = service.db.dialect == "sqlite"
        self.executor = ThreadPoolExecutor(1 if sqlite else 12, thread_name_prefix="voc-slack")
        self.ack_budget = ack_budget
        self.locale_ttl = locale_ttl
        self.patience = patience
        self._people: dict[str, tuple[float, asyncio.Future[str]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.home_users: set[str] = set()

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A core call in the adapter's worker threads (never on the event loop)."""
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, functools.partial(call, *args, **kwargs))

    # -- people ----------------------------------------------------------------------------
    async def who(self, client: AsyncWebClient, user_id: str) -> Who:
        """The identity and language of a Slack user (users.info, cached per user)."""
        now = time.monotonic()
        cached = self._people.get(user_id)
        if cached is None or cached[0] < now:  # one lookup even when many requests race
            cached = (now + self.locale_ttl,
                      asyncio.ensure_future(self._identify(client, user_id)))
            self._people[user_id] = cached
        try:
            locale = await asyncio.shield(cached[1])
        except Exception:
            if self._people.get(user_id) is cached:
                del self._people[user_id]  # the next request tries again
            raise
        return Who(f"slack:{user_id}", self.service.translator(locale))

    async def _identify(self, client: AsyncWebClient, user_id: str) -> str:
        name = platform_locale = None
        try:
            info = await client.users_info(user=user_id, include_locale=True)
            user = info.get("user") or {}
            profile = user.get("profile") or {}
            name = (profile.get("display_name") or profile.get("real_name")
                    or user.get("real_name") or user.get("name"))
            platform_locale = user.get("locale")
        except SlackApiError as error:  # e.g. users:read missing: company language it is
            log.warning("users.info for %s failed: %s", user_id, error.response.get("error"))
        try:
            person = await self.run(self.service.identify, f"slack:{user_id}",
                                    display_name=name, platform_locale=platform_locale)
        except StoreUnavailable:
            # Answer in Slack's idea of their language now; ask the database next time.
            self.later(self._forget_soon(user_id))
            return normalise_locale(platform_locale) or self.service.company.locale
        return person.locale

    async def _forget_soon(self, user_id: str) -> None:
        await asyncio.sleep(0)  # after `who` has cached this answer
        self.forget(user_id)

    def forget(self, user_id: str) -> None:
        """Drop a cached language (after the person changes it)."""
        self._people.pop(user_id, None)

    # -- background work -------------------------------------------------------------------
    def later(self, work: Awaitable[None]) -> None:
        """Run `work` after the listener has answered Slack; errors are logged, not lost."""
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("Slack background work failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let background work finish (on shutdown), cancelling what overruns."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def budgeted(self, work: Awaitable[T]) -> asyncio.Task[T] | T:
        """Await core work for up to `ack_budget`; its result, or the still-running task."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.ack_budget)
        return task.result() if task in done else task

    # -- output ----------------------------------------------------------------------------
    @staticmethod
    def reply(message: OutboundMessage) -> dict[str, Any]:
        """An ephemeral answer (ack or response_url) carrying `message`."""
        return {"response_type": "ephemeral", "text": bk.fallback_text(message),
                "blocks": bk.message_blocks(message)}

    @staticmethod
    def refusal(error: VocError, t: Translator) -> OutboundMessage:
        """A refusal as a one-line message."""
        return OutboundMessage(title="⚠ " + error.render(t))

    @staticmethod
    def failure(error: BaseException, t: Translator) -> OutboundMessage:
        """What the person hears when a core call fails: the refusal, that the database is
        unavailable, or (a bug, logged) that something went wrong."""
        refusal = as_refusal(error)
        if refusal is None:
            log.error("Slack request failed", exc_info=error)
            return OutboundMessage(
                title="⚠ " + t.gettext("Something went wrong; please try again later."))
        if isinstance(refusal, Unavailable):
            log.warning("Slack request refused: %s", error)
        return SlackBot.refusal(refusal, t)

    async def follow_up(self, work: Awaitable[OutboundMessage],
                        send: Callable[[OutboundMessage], Awaitable[Any]], *,
                        late: OutboundMessage) -> None:
        """Send `work`'s answer when it comes. If the database holds it past `patience`, send
        `late` first (the person must not wait in silence) and the answer if it still comes."""
        task = asyncio.ensure_future(work)
        try:
            message = await asyncio.wait_for(asyncio.shield(task), self.patience)
        except TimeoutError:
            await send(late)
            message = await task
        await send(message)

    async def tell(self, client: AsyncWebClient, respond: AsyncRespond | None, user_id: str,
                   message: OutboundMessage, *, replace: bool = False) -> None:
        """Answer the person who acted: through response_url if there is one, else by DM."""
        if respond is not None and respond.response_url:
            await respond(**self.reply(message), replace_original=replace)
        else:
            await client.chat_postMessage(channel=user_id, text=bk.fallback_text(message),
                                          blocks=bk.message_blocks(message))

    async def publish_home(self, client: AsyncWebClient, user_id: str) -> None:
        """App Home: my reports, and my department's queue for heads and members."""
        who = await self.who(client, user_id)
        mine = await self.run(self.service.mine, who.identity)
        parts = [render.mine_reply(mine, who.t)]
        person = await self.run(self.service.person, who.identity)
        if person is not None and (person.heads or person.department):
            try:
                queue = await self.run(self.service.queue, who.identity)
                parts.append(render.queue_reply(queue, who.t))
            except VocError as error:
                parts.append(self.refusal(error, who.t))
        await client.views_publish(user_id=user_id, view=bk.home_view(who.t, parts))
        self.home_users.add(user_id)

    def refresh_home(self, client: AsyncWebClient, user_id: str) -> None:
        """Republish the home of someone who has it open, after a change they made."""
        if user_id in self.home_users:
            self.later(self.publish_home(client, user_id))


def build_app(bot: SlackBot, *, client: AsyncWebClient, signing_secret: str | None
              ) -> AsyncApp:
    """The Bolt app with every listener registered."""
    app = AsyncApp(client=client, signing_secret=signing_secret or "",
                   process_before_response=True,
                   request_verification_enabled=signing_secret is not None)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        """One place for unexpected failures: log them with what Slack sent."""
        log.error("Slack listener failed (%s)", body.get("type") or body.get("command"),
                  exc_info=error)

    register_commands(app, bot)
    register_shortcuts(app, bot)
    register_actions(app, bot)
    register_views(app, bot)
    register_events(app, bot)
    return app


# -- /voc ---------------------------------------------------------------------------------------
def register_commands(app: AsyncApp, bot: SlackBot) -> None:
    """`/voc` and its subcommands."""

    @app.command("/voc")
    async def voc(ack: Any, command: dict[str, Any], client: AsyncWebClient,
                  respond: AsyncRespond) -> None:
        """Capture at once, answer a list, or open the capture form."""
        user_id = command["user_id"]
        word, _, rest = (command.get("text") or "").strip().partition(" ")
        if not word:
            await ack()  # trigger_id lives 3 s: the form opens right after the ack
            bot.later(open_capture(bot, client, user_id, command["trigger_id"],
                                   channel=command.get("channel_id")))
            return
        who = await bot.who(client, user_id)
        work = subcommand(bot, who, word.lower(), rest.strip(),
                          dedupe_key=f"slack:command:{command.get('trigger_id')}")
        if work is None:
            await ack(**bot.reply(OutboundMessage(title=who.t.gettext(HELP))))
            return
        outcome = await bot.budgeted(work)
        if isinstance(outcome, asyncio.Task):  # the database is slow today: answer later
            await ack(text=who.t.gettext("Working on it…"), response_type="ephemeral")
            late = not_answering(who.t, rest if is_capture(word.lower()) else None)
            bot.later(bot.follow_up(outcome, lambda m: respond(**bot.reply(m),
                                                               replace_original=False),
                                    late=late))
            return
        await ack(**bot.reply(outcome))


def subcommand(bot: SlackBot, who: Who, word: str, rest: str, *, dedupe_key: str
               ) -> Awaitable[OutboundMessage] | None:
    """The core call behind `/voc WORD REST`, rendered (a refusal as a message); None for
    help."""
    service, t, me = bot.service, who.t, who.identity

    async def guarded(work: Awaitable[OutboundMessage]) -> OutboundMessage:
        try:
            return await work
        except Exception as error:
            return SlackBot.failure(error, t)

    if word == "help":
        return None
    if word == "mine":
        return guarded(bot.run(lambda: render.mine_reply(service.mine(me), t)))
    if word == "queue":
        return guarded(bot.run(lambda: render.queue_reply(service.queue(me, rest or None), t)))
    if word == "show":
        return guarded(bot.run(lambda: render.detail_reply(service.show(me, rest), t)))
    if word == "score":
        value, _, comment = rest.partition(" ")
        return guarded(bot.run(lambda: render.score_reply(
            service.record_score(me, value, comment=comment or None, dedupe_key=dedupe_key),
            t)))
    if word == "digest":
        return guarded(bot.run(lambda: digest(service, me, t)))

    async def capture() -> OutboundMessage:
        return await captured_reply(bot, who, Draft(word, rest, dedupe_key=dedupe_key))
    return capture()


def is_capture(word: str) -> bool:
    """Whether `/voc WORD ...` reports something (every word but the listed subcommands)."""
    return word not in ("help", "mine", "queue", "show", "score", "digest")


async def captured_reply(bot: SlackBot, who: Who, draft: Draft) -> OutboundMessage:
    """Store a report; the reporter's answer, or why it was not stored with their words back
    (after Slack was answered, this message is all they will know)."""
    try:
        result = await bot.service.submit_capture(who.identity, draft)
    except Exception as error:
        refusal = as_refusal(error)
        if refusal is not None and not isinstance(refusal, Unavailable):
            return bot.refusal(refusal, who.t)  # a bad field: the answer says which
        return render.capture_failed(draft.text, _reason(bot.failure(error, who.t)), who.t)
    return render.capture_reply(result.signal, who.t, duplicate=result.duplicate)


def _reason(message: OutboundMessage) -> str:
    return message.title.removeprefix("⚠ ")


def not_answering(t: Translator, draft_text: str | None) -> OutboundMessage:
    """What a person hears when the database keeps their request past the bot's patience."""
    reason = Unavailable().render(t)
    if draft_text is not None:
        return render.capture_failed(draft_text, reason, t)
    return OutboundMessage(title="⚠ " + reason)


def digest(service: VocService, actor: str, t: Translator) -> OutboundMessage:
    """This week's digest preview: the company's for leadership, the department's for heads."""
    from jobs.digest import digest_preview  # the digest builder pulls in matplotlib: lazily

    return digest_preview(service, actor, week=None)


async def open_capture(bot: SlackBot, client: AsyncWebClient, user_id: str, trigger_id: str,
                       *, text: str | None = None, link: str | None = None,
                       channel: str | None = None) -> None:
    """The capture form, the suggested department preselected when the text is known."""
    who = await bot.who(client, user_id)
    departments = await bot.run(bot.service.departments)
    suggested = None
    if text and text.strip():
        suggested = (await bot.run(bot.service.suggest, text)).slug
    await client.views_open(trigger_id=trigger_id, view=bk.capture_modal(
        who.t, departments, text=text, link=link, suggested=suggested, channel=channel))


# -- the message shortcut --------------------------------------------------------------------
def register_shortcuts(app: AsyncApp, bot: SlackBot) -> None:
    """"Report to VoC" on any message."""

    @app.shortcut(bk.SHORTCUT)
    async def report_message(ack: Any, shortcut: dict[str, Any], client: AsyncWebClient
                             ) -> None:
        """Open the capture form prefilled with the message and its permalink."""
        await ack()
        bot.later(_report_message(bot, client, shortcut))


async def _report_message(bot: SlackBot, client: AsyncWebClient, shortcut: dict[str, Any]
                          ) -> None:
    channel = (shortcut.get("channel") or {}).get("id")
    message = shortcut.get("message") or {}
    link = None
    if channel and shortcut.get("message_ts"):
        try:
            link = (await client.chat_getPermalink(channel=channel,
                                                   message_ts=shortcut["message_ts"])
                    ).get("permalink")
        except SlackApiError as error:  # a channel the bot cannot see: report without the link
            log.info("no permalink for %s: %s", channel, error.response.get("error"))
    await open_capture(bot, client, shortcut["user"]["id"], shortcut["trigger_id"],
                       text=(message.get("text") or "")[:3000], link=link, channel=channel)


# -- buttons -----------------------------------------------------------------------------------
def register_actions(app: AsyncApp, bot: SlackBot) -> None:
    """Every button the bot renders: `voc:<action>:<n>`."""

    @app.action(bk.ACTION_RE)
    async def pressed(ack: Any, body: dict[str, Any], action: dict[str, Any],
                      client: AsyncWebClient, respond: AsyncRespond) -> None:
        """Ack at once; act (or open the form) right after."""
        await ack()
        bot.later(press(bot, client, respond, body, action))


async def press(bot: SlackBot, client: AsyncWebClient, respond: AsyncRespond,
                body: dict[str, Any], action: dict[str, Any]) -> None:
    """One button press: a core call, or a core check and then its form."""
    user_id = body["user"]["id"]
    who = await bot.who(client, user_id)
    name, ref, value = bk.parse_button(action)
    service, me, t = bot.service, who.identity, who.t
    case_action = action_of(name)
    try:
        if case_action is not None and RULES[case_action].asks_first:
            await open_form(bot, client, body, case_action, ref, who)
            return
        if name == "pulse" and value == "comment":
            await client.views_open(trigger_id=body["trigger_id"], view=bk.note_modal(
                t, "pulse_comment", ref, metadata=_reply_to(body)))
            return
        message, replace = await bot.run(direct_action, service, me, t, name, ref, value)
    except Exception as error:
        await bot.tell(client, respond, user_id, bot.failure(error, t))
        return
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
    raise NotFound(N_("This button is no longer supported."))


async def open_form(bot: SlackBot, client: AsyncWebClient, body: dict[str, Any],
                    action: Action, ref: str, who: Who) -> None:
    """Refuse now if the core would refuse; otherwise ask for the note, reason or department."""
    signal = await bot.run(bot.service.check, who.identity, ref, action)
    metadata = _reply_to(body)
    rule = RULES[action]
    if rule.needs_department:
        departments = await bot.run(bot.service.departments)
        current = signal.department.slug
        view = (bk.note_modal(who.t, action, signal.ref, departments=departments,
                              current=current, metadata=metadata) if rule.note_prompt
                else bk.department_modal(who.t, signal.ref, departments, current, metadata))
    else:
        view = bk.note_modal(who.t, action, signal.ref, metadata=metadata)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


def _reply_to(body: dict[str, Any]) -> dict[str, Any]:
    """Where the confirmation of a form should go: the pressed message's response_url."""
    return {"response_url": body.get("response_url")}


# -- modals ------------------------------------------------------------------------------------
def register_views(app: AsyncApp, bot: SlackBot) -> None:
    """Submissions of the capture form and of the note/reason/department forms."""

    @app.view(bk.CAPTURE_VIEW)
    async def captured(ack: Any, body: dict[str, Any], view: dict[str, Any],
                       client: AsyncWebClient) -> None:
        """Field errors inline in the person's language; otherwise close and store."""
        user_id = body["user"]["id"]
        who = await bot.who(client, user_id)
        values, meta = bk.view_values(view), bk.view_metadata(view)
        department = values.get("department")
        if department in (bk.AUTO, meta.get("suggested")):
            department = None  # the suggestion stands: keep its reason ("matched: ...")
        draft = Draft(values.get("kind") or "", values.get("text") or "",
                      customer=values.get("customer"), score=values.get("score"),
                      anonymous=bool(values.get("anonymous")), source_link=meta.get("link"),
                      department=department, dedupe_key=f"slack:view:{view.get('id')}")
        problems = bot.service.draft_problems(draft)
        if problems:
            await ack(response_action="errors",
                      errors={field: error.render(who.t) for field, error in problems.items()})
            return
        await ack()
        bot.later(_store(bot, client, user_id, who, draft))

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


async def _store(bot: SlackBot, client: AsyncWebClient, user_id: str, who: Who,
                 draft: Draft) -> None:
    """Store a submitted form (Slack has its answer already): the reporter hears by DM."""
    await bot.follow_up(captured_reply(bot, who, draft),
                        lambda message: bot.tell(client, None, user_id, message),
                        late=not_answering(who.t, draft.text))
    bot.refresh_home(client, user_id)


def form_call(service: VocService, me: str, t: Translator, action: str, ref: str,
              values: dict[str, Any]) -> OutboundMessage:
    """The core call behind a submitted form, rendered."""
    note = values.get("note") or ""
    if (case_action := action_of(action)) is not None:
        signal = service.perform(me, case_action, ref, text=note,
                                 department=values.get("department") or "")
        return render.action_done(signal, case_action, t)
    if action == "pulse_comment":
        return render.pulse_thanks(service.answer_pulse(me, ref, "comment", comment=note), t)
    raise NotFound(N_("This form is no longer supported."))


async def submitted(bot: SlackBot, ack: Any, body: dict[str, Any], view: dict[str, Any],
                    client: AsyncWebClient) -> None:
    """A form's core call before the ack, so a refusal shows inline and nothing changes."""
    user_id = body["user"]["id"]
    who = await bot.who(client, user_id)
    values, meta = bk.view_values(view), bk.view_metadata(view)
    action, ref = str(meta.get("action", "")), str(meta.get("ref", ""))
    try:
        outcome = await bot.budgeted(bot.run(form_call, bot.service, who.identity, who.t,
                                             action, ref, values))
    except (VocError, StoreUnavailable) as error:
        # Shown under the field: the form stays open with what they typed, nothing changed.
        refusal = as_refusal(error) or Unavailable()
        field = "note" if "note" in values else "department"
        if isinstance(error, NotFound) and "department" in values:
            field = "department"
        await ack(response_action="errors", errors={field: refusal.render(who.t)})
        return
    respond = AsyncRespond(response_url=meta.get("response_url"))
    if isinstance(outcome, asyncio.Task):
        await ack()
        bot.later(bot.follow_up(_rendered(bot, outcome, who.t),
                                lambda message: bot.tell(client, respond, user_id, message),
                                late=not_answering(who.t, None)))
        return
    await ack()
    bot.later(bot.tell(client, respond, user_id, outcome))
    bot.refresh_home(client, user_id)


async def _rendered(bot: SlackBot, work: Awaitable[OutboundMessage], t: Translator
                    ) -> OutboundMessage:
    try:
        return await work
    except Exception as error:
        return bot.failure(error, t)


# -- events ------------------------------------------------------------------------------------
def register_events(app: AsyncApp, bot: SlackBot) -> None:
    """App Home."""

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        """Publish the person's home (Slack re-sends the event on retries: publishing is
        idempotent)."""
        if event.get("tab", "home") == "home":
            bot.later(bot.publish_home(client, event["user"]))
