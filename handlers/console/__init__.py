"""Terminal chat: the same commands as in Slack, against the same core, with numbered buttons.

Everything the bot would post to Slack or Telegram (department cards, DMs) is delivered through
the outbox to `ConsolePort`, which prints it, so the whole loop is visible in one terminal.
`chat.py` is the conversation loop, `flows.py` the questions a report or a button asks,
`lines.py` the keyboard (line editing on a terminal, plain lines from a pipe).
"""

from handlers.console.chat import ConsoleChat, default_identity, run_console

__all__ = ["ConsoleChat", "default_identity", "run_console"]
