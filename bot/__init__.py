"""voc-bot: closes the voice-of-the-customer loop across departments, in Slack and Telegram."""

__version__ = "0.1.0"
