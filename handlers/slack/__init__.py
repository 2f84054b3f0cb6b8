"""The Slack adapter (slack-bolt): `/voc`, the message shortcut, cards, DMs and App Home."""
