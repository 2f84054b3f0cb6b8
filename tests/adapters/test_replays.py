"""A re-delivered request records nothing new: Slack replays a signed
`/voc score 0` (its retries, or an attacker within the 5-minute window), Telegram re-sends a
message under a new update id. Each answer still says what was recorded.
"""

from __future__ import annotations

from sqlmodel import col, select

from bot.core.service import VocService
from storage.models import Score
from tests.adapters.test_telegram_flows import ANNA, Bot, running_bot
from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    Workspace,
    slack_workspace,
)


def scores(service: VocService) -> list[Score]:
    with service.db.read() as session:
        return list(session.exec(select(Score).where(Score.kind == "customer")
                                         .order_by(col(Score.id))))


def test_a_replayed_slack_score_command_stores_one_score(workspace: Workspace) -> None:
    kate = workspace.user("U0SALES1")
    body = kate.command_body("score 0 never again")
    answers = [kate.send(body, "application/x-www-form-urlencoded",
                         headers={"X-Slack-Retry-Num": str(n)} if n else None)
               for n in range(5)]
    assert all("Recorded a customer score of 0/10" in a.text for a in answers)
    assert [(s.value, s.comment) for s in scores(workspace.service)] == [(0, "never again")]

    kate.say("score 3")  # a new command is a new score
    assert sorted(s.value for s in scores(workspace.service)) == [0, 3]


def test_a_telegram_score_delivered_twice_stores_one_score(service: VocService) -> None:
    with running_bot(service) as bot:
        first = bot.say(ANNA, "/score 4 долго ждали")
        again = bot.fake.update(message=first["message"])  # the same message, a new update id
        bot.fake.push(again)
        answers = _answers(bot, 2)
        assert all("4/10" in a["text"] for a in answers)
        assert [(s.value, s.comment) for s in scores(service)] == [(4, "долго ждали")]


def _answers(bot: Bot, count: int) -> list[dict[str, object]]:
    return bot.fake.wait(lambda: (found := [m for m in bot.fake.sent(ANNA.id)
                                            if "4/10" in m.get("text", "")])
                         and len(found) >= count and found, what=f"{count} answers")
