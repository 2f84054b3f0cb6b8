"""What every Slack listener shares: `SlackBot` (the Bolt app itself is built by
handlers/slack/listeners/`build_app`, with every listener registered).

Listeners live in handlers/slack/listeners/, one module per kind of Slack event, each with
`register(app, bot)`. They are thin: acknowledge Slack, translate the payload, make one core call
in a worker thread, render the result. Rules (who may act, what state allows what) live in the
core; a refusal comes back as a `VocError` and is shown to that person only.

Slack wants an answer within 3 seconds. The app runs with `process_before_response=True` (the
default mode polls for the ack every 10 ms, a floor of ~11 ms per request), so the HTTP answer
leaves when the listener returns. Listeners that answer with content (a capture's reference, a
queue) make the core call first under `ACK_BUDGET` (`answer`); everything else acks at once and
works afterwards (`later`, the one mechanism for work after the ack: it keeps the task, renders
whatever the work raised to the person, and logs bugs with their traceback). Bolt's lazy
listeners were not used: their tasks are not kept (asyncio may collect a pending task) and
their errors are logged in one line, without a traceback and without telling the person.
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

from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.presentation import render
from bot.core.presentation.messages import OutboundMessage
from bot.core.service import VocService
from bot.core.shared.errors import Unavailable, VocError, as_refusal
from bot.core.shared.i18n import Translator, normalise_locale
from handlers.slack import blocks as bk
from storage.db import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
ACK_BUDGET = 2.0  # seconds a listener may spend before answering Slack some other way
LOCALE_TTL = 3600.0  # how long users.info answers are trusted
PATIENCE = 45.0  # seconds after the ack before a person hears that the database is not answering
Send = Callable[[OutboundMessage], Awaitable[Any]]
# users.info answers that asking again would not change (the app's scopes, a deleted user).
LASTING_ERRORS = {"missing_scope", "not_allowed_token_type", "user_not_found"}


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
            if error.response.get("error") not in LASTING_ERRORS:  # slow or down: ask again
                asyncio.get_running_loop().call_soon(self.forget, user_id)
        try:
            person = await self.run(self.service.identify, f"slack:{user_id}",
                                    display_name=name, platform_locale=platform_locale)
        except StoreUnavailable:
            # Answer in Slack's idea of their language now; ask the database next time.
            asyncio.get_running_loop().call_soon(self.forget, user_id)
            return normalise_locale(platform_locale) or self.service.company.locale
        return person.locale

    def forget(self, user_id: str) -> None:
        """Drop a cached language (after the person changes it)."""
        self._people.pop(user_id, None)

    # -- answering, now or later -----------------------------------------------------------
    async def answer(self, ack: Any, work: Awaitable[OutboundMessage], t: Translator, *,
                     respond: AsyncRespond, late: OutboundMessage) -> None:
        """Ack with `work`'s answer if it comes within `ack_budget`; otherwise ack that it is
        on its way and send it through response_url when it comes."""
        task = asyncio.ensure_future(self.rendered(work, t))
        done, _ = await asyncio.wait({task}, timeout=self.ack_budget)
        if task in done:
            message = task.result()
            await (ack(**self.reply(message)) if message else ack())
            return
        await ack(text=t.gettext("Working on it…"), response_type="ephemeral")
        self.later(task, send=lambda m: respond(**self.reply(m), replace_original=False),
                   late=late)  # the task renders its own failure

    def later(self, work: Awaitable[OutboundMessage | None], t: Translator | None = None, *,
              send: Send | None = None, late: OutboundMessage | None = None) -> None:
        """Run `work` after Slack has been answered and `send` the message it returns, or what
        it raised, rendered (`t`). If the database holds it past `patience`, `late` is sent
        first (nobody waits in silence) and the answer still follows when it comes."""
        async def guarded() -> None:
            task = asyncio.ensure_future(self.rendered(work, t) if t else work)
            try:
                message = await asyncio.wait_for(asyncio.shield(task), self.patience)
            except TimeoutError:
                if send is not None and late is not None:
                    await send(late)
                message = await task
            if send is not None and message is not None:
                await send(message)

        task = asyncio.get_running_loop().create_task(_logged(guarded()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def rendered(self, work: Awaitable[OutboundMessage | None], t: Translator
                       ) -> OutboundMessage | None:
        """`work`'s message, or what it raised rendered for the person (the one error path)."""
        try:
            return await work
        except Exception as error:
            return self.failure(error, t)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let background work finish (on shutdown), cancelling what overruns."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

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
        unavailable, or (a bug, logged with its traceback) that something went wrong."""
        refusal = as_refusal(error)
        if refusal is None:
            log.error("Slack request failed", exc_info=error)
            return OutboundMessage(
                title="⚠ " + t.gettext("Something went wrong; please try again later."))
        if isinstance(refusal, Unavailable):
            log.warning("Slack request refused: %s", error)
        return SlackBot.refusal(refusal, t)

    async def tell(self, client: AsyncWebClient, respond: AsyncRespond | None, user_id: str,
                   message: OutboundMessage, *, replace: bool = False) -> None:
        """Answer the person who acted: through response_url if there is one, else by DM."""
        if respond is not None and respond.response_url:
            await respond(**self.reply(message), replace_original=replace)
        else:
            await client.chat_postMessage(channel=user_id, text=bk.fallback_text(message),
                                          blocks=bk.message_blocks(message))

    def teller(self, client: AsyncWebClient, respond: AsyncRespond | None, user_id: str, *,
               replace: bool = False) -> Send:
        """`tell` bound to one person, for `later`."""
        return functools.partial(self.tell, client, respond, user_id, replace=replace)

    # -- App Home ----------------------------------------------------------------------------
    async def publish_home(self, client: AsyncWebClient, user_id: str) -> None:
        """App Home: my reports, and my department's queue for heads and members."""
        # Noted first: a press on the home may arrive before Slack has answered the publish.
        self.home_users.add(user_id)
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

    def refresh_home(self, client: AsyncWebClient, user_id: str) -> None:
        """Republish the home of someone who has it open, after a change they made."""
        if user_id in self.home_users:
            self.later(self.publish_home(client, user_id))


async def _logged(work: Awaitable[None]) -> None:
    try:
        await work
    except Exception:  # background work has nobody else to tell
        log.exception("Slack background work failed")
