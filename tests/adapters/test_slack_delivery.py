"""Slack delivery through the outbox: rate limits, outages, channels that do not work, and
how the port finds a message it already posted."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import PermanentDeliveryError, RetryAfter
from handlers.slack.port import SlackPort
from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    TOKEN,
    FakeSlack,
    Workspace,
    slack_workspace,
)

KATE = "U0SALES1"


def delivered_card(workspace: Workspace, channel: str):  # type: ignore[no-untyped-def]
    """The card's outbox row once the dispatcher has recorded the delivery."""
    return workspace.slack.wait(lambda: next(
        (r for r in workspace.outbox("sent") if r.destination == f"slack:{channel}"), None),
        what="the card marked sent")


def posts_to(workspace: Workspace, channel: str) -> list[dict[str, object]]:
    return [c for c in workspace.slack.calls_of("chat.postMessage") if c["channel"] == channel]


def test_a_429_is_honoured_and_the_card_still_arrives_once(workspace: Workspace):
    workspace.slack.fail("chat.postMessage", status=429, retry_after=1, channel="C0LOGISTICS")
    workspace.user(KATE).say("complaint The courier was late")
    workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    assert len(workspace.slack.in_channel("C0LOGISTICS")) == 1
    assert len(posts_to(workspace, "C0LOGISTICS")) == 2  # refused once, then delivered
    card = delivered_card(workspace, "C0LOGISTICS")
    assert card.attempts == 1  # Slack's wait spent no attempt: only the delivery counts


def test_a_500_is_retried_with_backoff(workspace: Workspace):
    workspace.slack.fail("chat.postMessage", status=500, channel="C0LOGISTICS")
    workspace.user(KATE).say("complaint The courier was late")
    workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1", timeout=15)
    assert len(workspace.slack.in_channel("C0LOGISTICS")) == 1
    assert delivered_card(workspace, "C0LOGISTICS").attempts == 2  # the failure counted


def test_an_unknown_channel_goes_to_the_dead_letters_with_an_admin_message(
        workspace: Workspace):
    workspace.slack.channels.discard("C0IT")  # the file names a channel Slack does not have
    workspace.user(KATE).say("complaint The website checkout crashes on payment")
    dead = workspace.slack.wait(lambda: workspace.outbox("dead"), what="a dead letter")
    assert dead[0].destination == "slack:C0IT"
    assert "Slack channel C0IT does not exist" in (dead[0].last_error or "")
    assert "voc outbox retry" in (dead[0].last_error or "")
    assert "[channel_not_found]" in (dead[0].last_error or "")


def test_a_channel_without_the_bot_says_to_invite_it(workspace: Workspace):
    workspace.slack.not_in_channel.add("C0LOGISTICS")
    workspace.user(KATE).say("complaint The courier was late")
    dead = workspace.slack.wait(lambda: workspace.outbox("dead"), what="a dead letter")
    assert "/invite @voc" in (dead[0].last_error or "")


@pytest.fixture
def fake() -> FakeSlack:
    with FakeSlack(["C0LOGISTICS"], {KATE: {"name": "Kate Brown"}}) as slack:
        yield slack


def with_port(fake: FakeSlack, work):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with aiohttp.ClientSession() as session:
            client = AsyncWebClient(token=TOKEN, base_url=fake.api_url, session=session)
            return await work(SlackPort(client))
    return asyncio.run(run())


def test_find_sent_recognises_a_message_posted_before_a_crash(fake: FakeSlack):
    message = OutboundMessage(title="Card", quote="text")

    async def work(port: SlackPort) -> tuple[str, str | None, str | None, str | None]:
        sent = await port.send("slack:C0LOGISTICS", message, dedupe_key="card:1@slack:C0LOG")
        dm = await port.send(f"slack:{KATE}", message, dedupe_key="note:7")
        return (sent, await port.find_sent("slack:C0LOGISTICS", "card:1@slack:C0LOG"),
                await port.find_sent("slack:C0LOGISTICS", "card:2@slack:C0LOG"),
                await port.find_sent(f"slack:{KATE}", "note:7") if dm else None)

    sent, found, other, in_dm = with_port(fake, work)
    assert found == sent and other is None
    assert in_dm == f"D{KATE}:" + fake.dm(KATE)[0].ts  # a DM is found through its channel


def test_port_errors_speak_the_dispatchers_language(fake: FakeSlack):
    fake.fail("chat.postMessage", status=429, retry_after=7)
    fake.fail("chat.update", error="message_not_found")

    async def work(port: SlackPort) -> None:
        with pytest.raises(RetryAfter) as wait:
            await port.send("slack:C0LOGISTICS", OutboundMessage("x"), dedupe_key="k1")
        assert wait.value.seconds == 7
        with pytest.raises(PermanentDeliveryError, match="no longer exists"):
            await port.update("slack:C0LOGISTICS", "C0LOGISTICS:1.2", OutboundMessage("x"))
        with pytest.raises(PermanentDeliveryError, match="does not exist"):
            await port.send("slack:C0NOPE", OutboundMessage("x"), dedupe_key="k2")

    with_port(fake, work)


def test_files_are_uploaded_with_files_upload_v2(fake: FakeSlack):
    async def work(port: SlackPort) -> str:
        return await port.send_file("slack:C0LOGISTICS", OutboundFile(
            "digest.xlsx", b"PK\x03\x04 workbook", title="Digest", caption="Week 47"),
            dedupe_key="digest:2026-W47")

    file_id = with_port(fake, work)
    posted = fake.in_channel("C0LOGISTICS")[-1]
    assert posted.files[0]["id"] == file_id
    assert posted.files[0]["content"] == b"PK\x03\x04 workbook"
    assert posted.text == "Week 47"
