"""Attachments: file contents by sha256 (kept once, whatever number of reports carry them)
and their links to signals. Keyword-only data functions; they never commit.

Retention deletes a signal's files with `delete_attachments`; a content no other signal links
to goes with them. A file delivery still queued for a deleted file finds no content and is
skipped by the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, delete, func, insert
from sqlmodel import Session, col, select

from storage.db import insert_or_ignore
from storage.models import Attachment, FileBlob


@dataclass(frozen=True)
class NewAttachment:
    """A checked file to link to a signal."""

    filename: str
    mime: str
    content: bytes
    sha256: str
    source_key: str | None = None
    album: str | None = None


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment without its bytes."""

    id: int
    signal_id: int
    filename: str
    mime: str
    size: int
    sha256: str


@cache
def _insert_blob(dialect: str) -> Any:
    table = FileBlob.__table__  # type: ignore[attr-defined]
    return insert_or_ignore(dialect, table, "sha256")


def attach(*, connection: Connection, signal_id: int, files: Sequence[NewAttachment],
           now: datetime) -> list[StoredAttachment]:
    """Keep the files' contents (once per sha256) and link them to the signal, in order."""
    if not files:
        return []
    blobs = {f.sha256: {"sha256": f.sha256, "size": len(f.content), "content": f.content,
                        "created_at": now} for f in files}
    connection.execute(_insert_blob(connection.dialect.name), list(blobs.values()))
    table = Attachment.__table__  # type: ignore[attr-defined]
    stored = []
    for f in files:  # one at a time: their ids, in order, on both databases
        attachment_id = connection.execute(insert(table).values(
            signal_id=signal_id, sha256=f.sha256, filename=f.filename, mime=f.mime,
            size=len(f.content), source_key=f.source_key, album=f.album, created_at=now
        ).returning(table.c.id)).scalar_one()
        stored.append(StoredAttachment(int(attachment_id), signal_id, f.filename, f.mime,
                                       len(f.content), f.sha256))
    return stored


def attachments_of(*, session: Session, signal_id: int) -> list[StoredAttachment]:
    """A signal's attachments, in the order they came."""
    rows = session.exec(select(Attachment).where(Attachment.signal_id == signal_id)
                        .order_by(col(Attachment.id))).all()
    return [StoredAttachment(row.id or 0, row.signal_id, row.filename, row.mime, row.size,
                             row.sha256) for row in rows]


def names_of(*, session: Session, signal_id: int) -> tuple[str, ...]:
    """The names of a signal's attachments, in order (what its card lists)."""
    return tuple(session.exec(select(Attachment.filename)
                              .where(Attachment.signal_id == signal_id)
                              .order_by(col(Attachment.id))).all())


def totals(*, session: Session, signal_id: int) -> tuple[int, int]:
    """How many files a signal holds and their bytes (the case limits count these)."""
    count, size = session.exec(select(func.count(col(Attachment.id)),
                                      func.coalesce(func.sum(Attachment.size), 0))
                               .where(Attachment.signal_id == signal_id)).one()
    return int(count), int(size)


def counts(*, session: Session, signal_ids: Iterable[int]) -> dict[int, int]:
    """Attachment counts by signal (the export's column); signals without any are absent."""
    ids = list(signal_ids)
    if not ids:
        return {}
    rows = session.exec(select(Attachment.signal_id, func.count(col(Attachment.id)))
                        .where(col(Attachment.signal_id).in_(ids))
                        .group_by(col(Attachment.signal_id))).all()
    return {int(signal_id): int(count) for signal_id, count in rows}


def signal_of_album(*, session: Session, album: str) -> int | None:
    """The signal a Telegram media group's first items were attached to."""
    return session.exec(select(Attachment.signal_id).where(Attachment.album == album)
                        .order_by(col(Attachment.id)).limit(1)).first()


def seen_source(*, session: Session, source_key: str) -> bool:
    """Whether a platform message's file was attached already (a re-delivered update)."""
    return session.exec(select(Attachment.id).where(Attachment.source_key == source_key)
                        ).first() is not None


def content(*, session: Session, sha256: str) -> bytes | None:
    """A file's bytes, or None if retention removed them."""
    return session.exec(select(FileBlob.content).where(FileBlob.sha256 == sha256)).first()


def delete_attachments(*, session: Session, signal_id: int) -> int:
    """Remove a signal's attachments, and every content no other signal still links to
    (retention, `voc forget`). Returns how many attachments went."""
    hashes = set(session.exec(select(Attachment.sha256)
                              .where(Attachment.signal_id == signal_id)).all())
    result = session.execute(delete(Attachment).where(col(Attachment.signal_id) == signal_id))
    if hashes:
        still = set(session.exec(select(Attachment.sha256)
                                 .where(col(Attachment.sha256).in_(hashes))).all())
        if gone := hashes - still:
            session.execute(delete(FileBlob).where(col(FileBlob.sha256).in_(gone)))
    return int(result.rowcount)  # type: ignore[attr-defined]
