"""OutboundMessage as Telegram HTML: escaped, and never longer than Telegram accepts.

Only `<`, `>` and `&` need escaping in Telegram's HTML parse mode; every string of the message
is escaped, so user text can never add formatting or links. Length policy (deliberate): a
message that may be edited later or carries buttons is kept to ONE message by shortening the
quoted user text first, then the oldest footer lines; other messages (lists, notes) are split
into several at line boundaries.
"""

from __future__ import annotations

import html

from bot.core.presentation.messages import OutboundMessage

LIMIT = 4096  # characters per message
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Text safe inside Telegram HTML."""
    return html.escape(text, quote=False)


def _link(url: str) -> str:
    if url.startswith(("https://", "http://")):
        return f'<a href="{html.escape(url, quote=True)}">{escape(url)}</a>'
    return escape(url)


def _quote(text: str) -> str:
    return f"<blockquote>{escape(text)}</blockquote>"


def _parts(message: OutboundMessage, quote: str | None, footer: tuple[str, ...]) -> list[str]:
    parts = [f"<b>{escape(message.title)}</b>"]
    if quote:
        parts.append(_quote(quote))
    parts.extend(f"<b>{escape(label)}:</b> {escape(value)}" for label, value in message.fields)
    if message.link:
        parts.append(_link(message.link))
    parts.extend(f"· {escape(line)}" for line in footer)
    return parts


def _shorten(text: str, budget: int) -> str:
    """`text` cut so that its escaped form fits `budget` characters, ending in an ellipsis."""
    if len(escape(text)) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix whose escaped form (plus the ellipsis) fits
        middle = (low + high + 1) // 2
        if len(escape(text[:middle])) + len(ELLIPSIS) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


def fit(message: OutboundMessage, limit: int = LIMIT) -> str:
    """One message of at most `limit` characters: the quote, then old footer lines give way."""
    footer = message.footer
    text = "\n".join(_parts(message, message.quote, footer))
    if len(text) <= limit:
        return text
    quote = message.quote
    if quote:
        without = len("\n".join(_parts(message, None, footer)))
        budget = max(limit - without - len("\n<blockquote></blockquote>"), 200)
        quote = _shorten(quote, budget)
        text = "\n".join(_parts(message, quote, footer))
    dropped = 0
    while len(text) > limit and dropped < len(footer):  # the oldest history lines go first
        dropped += 1
        text = "\n".join(_parts(message, quote, (ELLIPSIS, *footer[dropped:])))
    if len(text) > limit:  # only an absurd title or fields get here: cut the plain text
        return escape(_shorten(message.plain_text(), limit))
    return text


def split(message: OutboundMessage, limit: int = LIMIT) -> list[str]:
    """Several messages of at most `limit` characters, cut between lines."""
    chunks: list[str] = []
    current = ""
    quote = _shorten(message.quote, limit - 30) if message.quote else None
    for part in _parts(message, quote, message.footer):
        candidate = f"{current}\n{part}" if current else part
        if len(candidate) > limit:
            chunks.append(current)
            current = part
        else:
            current = candidate
    chunks.append(current)
    return chunks
