"""Every Slack Web API call is bounded: a hanging Slack holds neither a capture nor a delivery.

The adapter gives each client a session that honours the client's own timeout; users.info,
which a command awaits before it answers, is cut off sooner still.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import Settings
from bot.core.presentation.messages import OutboundMessage
from bot.core.service import VocService
from handlers.slack.adapter import SlackAdapter
from jobs.dispatcher import Dispatcher
from storage import outbox
from storage.db import Database
from tests.conftest import FakeClock
from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    SIGNING_SECRET,
    TOKEN,
    FakeSlack,
    Workspace,
    slack_workspace,
)

KATE = "U0SALES1"
HANG = 8.0  # seconds a hanging call lasts at most (so a test of the old code still ends)


class HangingSlack(FakeSlack):
    """The fake Slack, where chosen methods hang (after doing their work, if `land`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hanging: dict[str, bool] = {}  # method -> land the call before hanging
        self.released = threading.Event()

    def api(self, method: str, args: dict[str, Any], authorized: bool
            ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method in self.hanging and not self.hanging[method]:
            self.released.wait(HANG)
        answer = super().api(method, args, authorized)
        if self.hanging.pop(method, False):  # once: it landed, the answer never comes back
            self.released.wait(HANG)
        return answer

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        super().__exit__(*exc)


@pytest.fixture
def slack() -> Iterator[HangingSlack]:
    with HangingSlack(["C0LOGISTICS"], {KATE: {"name": "Kate Brown"}}) as fake:
        yield fake


def adapter_for(slack: FakeSlack, service: VocService) -> SlackAdapter:
    settings = Settings(_env_file=None, slack_bot_token=TOKEN, slack_api_url=slack.api_url,
                        slack_signing_secret=SIGNING_SECRET)
    return SlackAdapter(settings, service, http_mode=True)


def test_a_hanging_post_is_cut_off_by_the_clients_timeout(slack: HangingSlack,
                                                          service: VocService) -> None:
    slack.hanging["chat.postMessage"] = False

    async def post() -> tuple[BaseException | None, float]:
        adapter = adapter_for(slack, service)
        adapter.slack_port.client.timeout = 1  # the client's own timeout is the one that holds
        await adapter.start()
        started = time.monotonic()
        try:
            await asyncio.wait_for(adapter.port.send(
                "slack:C0LOGISTICS", OutboundMessage("Card"), dedupe_key="card:1"), HANG + 2)
        except Exception as error:  # what the dispatcher will see: a failure to retry
            return error, time.monotonic() - started
        finally:
            await adapter.stop()
        return None, time.monotonic() - started

    error, took = asyncio.run(post())
    assert took < 2.5, f"the call lasted {took:.1f} s"
    assert isinstance(error, TimeoutError), repr(error)


def test_a_post_that_landed_but_never_answered_is_not_posted_again(
        slack: HangingSlack, service: VocService, db: Database, clock: FakeClock) -> None:
    slack.hanging["chat.postMessage"] = True  # Slack posts it; its answer never comes back
    with db.write() as session:
        outbox.enqueue(session=session, now=clock(), messages=[outbox.NewMessage(
            "card:1@slack:C0LOGISTICS", "slack:C0LOGISTICS", "send",
            {"message": OutboundMessage("Card").to_json()})])

    async def deliver() -> float:
        adapter = adapter_for(slack, service)
        adapter.slack_port.client.timeout = 1
        await adapter.start()
        dispatcher = Dispatcher(db, [adapter.port], clock=clock)
        try:
            started = time.monotonic()
            await asyncio.wait_for(dispatcher.run_once(), HANG + 2)
            took = time.monotonic() - started
            clock.advance(seconds=10)  # past the backoff
            await dispatcher.run_once()
            return took
        finally:
            await adapter.stop()

    took = asyncio.run(deliver())
    assert took < 2.5, f"the first attempt lasted {took:.1f} s"
    [posted] = slack.in_channel("C0LOGISTICS")  # the retry found it instead of posting again
    with db.read() as session:
        [row] = outbox.list_by_status(session=session, status=outbox.SENT)
    assert row.message_id == f"C0LOGISTICS:{posted.ts}"
    assert len(slack.calls_of("chat.postMessage")) == 1


def test_a_users_info_that_hangs_does_not_hold_up_a_capture(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()
    answer = workspace.slack.api

    def hanging_users_info(method: str, args: dict[str, Any], authorized: bool
                           ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method == "users.info":
            released.wait(HANG)
        return answer(method, args, authorized)

    monkeypatch.setattr(workspace.slack, "api", hanging_users_info)
    try:
        started = time.monotonic()
        said = workspace.user(KATE).say("complaint The courier was late")
        took = time.monotonic() - started
    finally:
        released.set()
    assert "went to Logistics" in said
    assert took < 2.5, f"Kate waited {took:.1f} s (Slack gives up after 3 s)"
    workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
