"""Platform-free outgoing messages. Adapters turn them into Block Kit, Telegram HTML or text.

All strings here are plain text in the reader's language; adapters escape them for their markup,
so user text can never inject a mention or formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Button:
    """A button: `action` + `ref` (+ `value`) is what the core gets back when it is pressed."""

    action: str
    ref: str
    label: str
    value: str | None = None
    style: str = "default"  # "primary" | "danger" | "default"

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (as `dataclasses.asdict`)."""
        return {"action": self.action, "ref": self.ref, "label": self.label,
                "value": self.value, "style": self.style}


@dataclass(frozen=True)
class OutboundMessage:
    """A card or a note: a title, the quoted user text, labelled fields, a footer and buttons."""

    title: str
    quote: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    footer: tuple[str, ...] = ()
    buttons: tuple[Button, ...] = ()
    link: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict, as stored in the outbox (`dataclasses.asdict`, written out: every
        card is serialised on the capture path, and asdict's generic recursion costs more than
        the card's SQL)."""
        return {"title": self.title, "quote": self.quote, "fields": self.fields,
                "footer": self.footer, "buttons": tuple(b.to_json() for b in self.buttons),
                "link": self.link}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboundMessage:
        """The inverse of `to_json`."""
        return cls(
            title=data["title"],
            quote=data.get("quote"),
            fields=tuple((str(k), str(v)) for k, v in data.get("fields", ())),
            footer=tuple(data.get("footer", ())),
            buttons=tuple(Button(**b) for b in data.get("buttons", ())),
            link=data.get("link"),
        )

    def plain_text(self) -> str:
        """The message as plain text (notification previews, terminal, logs)."""
        lines = [self.title]
        if self.quote:
            lines.extend(f"  > {line}" for line in self.quote.splitlines() or [""])
        lines.extend(f"  {label}: {value}" for label, value in self.fields)
        if self.link:
            lines.append(f"  {self.link}")
        lines.extend(f"  · {line}" for line in self.footer)
        return "\n".join(lines)


@dataclass(frozen=True)
class OutboundFile:
    """A file to post (digest chart, Excel workbook) with an optional caption."""

    filename: str
    content: bytes
    title: str = ""
    caption: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
