"""The Workflow Builder step "Report to VoC" (a custom step, `function_executed`), end to end:
the fake Slack sends the event signed to `voc serve`'s app, the step captures the report and
ends with its reference (functions.completeSuccess) or with why not (functions.completeError),
on both databases."""

from __future__ import annotations

import logging

import pytest

from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    Workspace,
    slack_workspace,
)

KATE = "U0SALES1"


def test_the_step_reports_and_outputs_the_reference(workspace: Workspace) -> None:
    kate = workspace.user(KATE)
    step = kate.run_step({"kind": "complaint", "customer": "ACME Furniture",
                          "text": "The courier was 3 hours late", "reporter": KATE})
    assert workspace.slack.wait_for_step(step) == {"outputs": {"reference": "VOC-1"}}
    card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    assert "The courier was 3 hours late" in card.plain and "Kate Brown" in card.plain
    (signal,) = workspace.signals()
    assert (signal.kind, signal.customer, signal.reporter_identity) == (
        "complaint", "ACME Furniture", f"slack:{KATE}")
    # The fake accepts functions.* only with the step's own token (from the event).
    assert len(workspace.slack.calls_of("functions.completeSuccess")) == 1


def test_the_department_input_routes_the_report(workspace: Workspace) -> None:
    step = workspace.user(KATE).run_step({
        "kind": "idea", "customer": "Globex", "text": "Let customers pay in instalments",
        "reporter": KATE, "department": "Finance"})
    assert workspace.slack.wait_for_step(step) == {"outputs": {"reference": "VOC-1"}}
    workspace.slack.wait_for_message("C0FINANCE", "VOC-1")


def test_bad_inputs_fail_the_step_with_a_clear_message_and_store_nothing(
        workspace: Workspace) -> None:
    kate = workspace.user(KATE)
    wrong_kind = workspace.slack.wait_for_step(kate.run_step({
        "kind": "complain", "customer": "ACME", "text": "Late again", "reporter": KATE}))
    assert wrong_kind["error"].startswith("Report to VoC could not store this report: ")
    assert "complaint" in wrong_kind["error"] and "praise" in wrong_kind["error"]
    unknown = workspace.slack.wait_for_step(kate.run_step({
        "kind": "complaint", "customer": "ACME", "text": "Late again", "reporter": KATE,
        "department": "warehouse"}))
    assert "warehouse" in unknown["error"] and "logistics" in unknown["error"]
    empty = workspace.slack.wait_for_step(kate.run_step({
        "kind": "praise", "customer": "ACME", "text": "   ", "reporter": KATE}))
    assert "could not store this report" in empty["error"]
    nobody = workspace.slack.wait_for_step(kate.run_step({
        "kind": "praise", "customer": "ACME", "text": "Great", "reporter": ""}))
    # No reporter, no language of theirs: the company's (Russian), naming the input.
    assert "Reporter" in nobody["error"] and "Report to VoC" in nobody["error"]
    assert workspace.signals() == []
    assert len(workspace.slack.calls_of("functions.completeError")) == 4



def test_a_channel_as_reporter_fails_the_step_clearly(
        workspace: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    kate = workspace.user(KATE)
    step = kate.run_step({"kind": "complaint", "customer": "ACME", "text": "Late again",
                          "reporter": "C0SALES"})  # the workflow mapped a channel
    failed = workspace.slack.wait_for_step(step)
    assert "Reporter" in failed["error"] and "C0SALES" in failed["error"]
    assert workspace.signals() == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_replayed_completed_step_is_logged_without_a_traceback(
        workspace: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    kate = workspace.user(KATE)
    inputs = {"kind": "complaint", "customer": "ACME", "text": "The courier was late",
              "reporter": KATE}
    step = kate.run_step(inputs)
    assert workspace.slack.wait_for_step(step) == {"outputs": {"reference": "VOC-1"}}
    with caplog.at_level(logging.INFO):
        kate.run_step(inputs, replay_of=step)  # Slack delivers the event again
        workspace.slack.wait(lambda: len(workspace.slack.calls_of(
            "functions.completeSuccess")) == 2, what="the replay's completion")
        workspace.slack.wait(lambda: any("already" in r.getMessage() for r in caplog.records),
                             what="the replay logged")
    assert len(workspace.signals()) == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
