"""Slack requests must be signed and fresh; `voc serve` as a real process; the manifest."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.core.presentation.messages import Button, OutboundMessage
from bot.core.shared.platforms import SLACK
from handlers.slack.blocks import escape, message_blocks
from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    SIGNING_SECRET,
    TOKEN,
    FakeSlack,
    SlackUser,
    Workspace,
    free_port,
    slack_workspace,
    workspace_people,
)
from tests.support.voc_process import voc_env, voc_in_process

KATE = "U0SALES1"


def test_forged_and_stale_requests_are_refused_and_store_nothing(workspace: Workspace):
    kate = workspace.user(KATE)
    forged = kate.send(kate.command_body("complaint forged"), "application/x-www-form-urlencoded",
                       secret="somebody-elses-secret")
    assert forged.status_code == 401
    six_minutes_ago = int(time.time()) - 360
    stale = kate.send(kate.command_body("complaint replayed"),
                      "application/x-www-form-urlencoded", timestamp=six_minutes_ago)
    assert stale.status_code == 401
    unsigned = kate.send(kate.command_body("complaint unsigned"),
                         "application/x-www-form-urlencoded",
                         headers={"X-Slack-Signature": ""})
    assert unsigned.status_code == 401
    forged_button = kate.interact({"type": "block_actions", "user": {"id": KATE},
                                   "actions": []}, secret="wrong")
    assert forged_button.status_code == 401
    assert workspace.signals() == [] and workspace.outbox() == []
    assert workspace.slack.calls_of("users.info") == []  # refused before any work


def test_escaping_leaves_nothing_slack_would_parse():
    assert escape("<!channel> & <@U1> <#C1|x>") == (
        "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;#C1|x&gt;")
    blocks = message_blocks(OutboundMessage(
        title="<!here>", quote="a\n<b>", fields=(("<x>", "<y>"),), footer=("<z>",),
        buttons=(Button("ack", "VOC-1", "<!everyone>"),), link="<https://e|x>"))
    assert "<" not in json.dumps([b for b in blocks if b["type"] != "actions"])
    assert blocks[-1]["elements"][0]["text"] == {"type": "plain_text", "text": "<!everyone>",
                                                 "emoji": True}  # plain text: never parsed


def test_a_long_queue_fits_slacks_limits():
    buttons = tuple(Button("ack", f"VOC-{i}", f"Acknowledge VOC-{i}") for i in range(60))
    blocks = message_blocks(OutboundMessage(title="Queue", quote="x" * 5000,
                                            footer=tuple(f"line {i}" for i in range(80)),
                                            buttons=buttons))
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [len(b["elements"]) for b in actions] == [25, 25, 10]
    ids = [e["action_id"] for b in actions for e in b["elements"]]
    assert len(set(ids)) == 60  # unique action ids


@pytest.mark.slow
@pytest.mark.usefixtures("migrated")
def test_voc_serve_answers_slack_for_real(company, tmp_path: Path):
    """The real `voc serve` process, its Slack client pointed at the fake Web API."""
    channels = [c for d in company.departments if (c := SLACK.target(d.addresses))]
    with FakeSlack([*channels, "C0LEADERS"], workspace_people(company)) as slack:
        port = free_port()
        env = voc_env(tmp_path, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                      SLACK_API_URL=slack.api_url, VOC_LOCALE="en")
        server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)],
                                  env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        try:
            from tests.system.test_serve import wait_until_up

            wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
            kate = SlackUser(slack, f"http://127.0.0.1:{port}/slack/events", KATE)
            forged = kate.send(kate.command_body("complaint x"),
                               "application/x-www-form-urlencoded", secret="nope")
            assert forged.status_code == 401
            answer = kate.say("complaint The courier was 3 hours late")
            assert "went to Logistics." in answer
            card = slack.wait_for_message("C0LOGISTICS", "The courier was 3 hours late")
            assert "Acknowledge" in [b["text"]["text"] for b in card.buttons()]
            assert slack.calls_of("auth.test")  # Bolt checked the token against "Slack"
        finally:
            server.send_signal(signal.SIGTERM)
            output = server.communicate(timeout=30)[0].decode()
        assert "Traceback" not in output, output


def test_the_manifest_for_http_and_for_socket_mode(tmp_path: Path):
    http = voc_in_process(tmp_path, "slack-manifest", "--url", "https://voc.example.com/")
    assert http.returncode == 0, http.stderr
    manifest = json.loads(http.stdout)
    events = "https://voc.example.com/slack/events"
    assert manifest["features"]["slash_commands"][0]["command"] == "/voc"
    assert manifest["features"]["slash_commands"][0]["url"] == events
    assert manifest["settings"]["interactivity"]["request_url"] == events
    assert manifest["settings"]["event_subscriptions"] == {
        "bot_events": ["app_home_opened", "function_executed"], "request_url": events}
    assert manifest["settings"]["socket_mode_enabled"] is False
    # The Workflow Builder step: an org-ready app running its function itself.
    assert manifest["settings"]["org_deploy_enabled"] is True
    assert manifest["settings"]["function_runtime"] == "remote"
    step = manifest["functions"]["report_to_voc_step"]
    assert step["title"] == "Report to VoC"
    assert set(step["input_parameters"]) == {"kind", "text", "customer", "reporter",
                                             "department"}
    assert step["input_parameters"]["reporter"]["type"] == "slack#/types/user_id"
    assert step["input_parameters"]["department"]["is_required"] is False
    assert set(step["output_parameters"]) == {"reference"}
    assert manifest["features"]["shortcuts"][0]["callback_id"] == "report_to_voc"
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "im:write", "users:read", "channels:history",
        "groups:history", "im:history", "files:write", "files:read"}

    socket = json.loads(voc_in_process(tmp_path, "slack-manifest").stdout)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "url" not in socket["features"]["slash_commands"][0]
    plain_http = voc_in_process(tmp_path, "slack-manifest", "--url", "http://voc.example.com")
    assert plain_http.returncode != 0 and "https" in plain_http.stderr
