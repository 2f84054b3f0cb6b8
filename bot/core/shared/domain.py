"""The domain's words, once: kinds, statuses, actions, audit events, score kinds and field
limits. Storage (columns, queries) and the core both use them; this module imports nothing of
ours, so storage may depend on it without depending on the rest of the core.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What the customer said."""

    COMPLAINT = "complaint"
    PRAISE = "praise"
    IDEA = "idea"


class Status(StrEnum):
    """Where a signal is in its loop; reassign and reopen send it back to ROUTED."""

    NEW = "new"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_STATUSES = (Status.ROUTED, Status.ACKNOWLEDGED)


class Action(StrEnum):
    """An action on a case; the value is what its button carries (kept stable: posted cards
    keep their buttons). Its rules are in handling/rules.py."""

    ACKNOWLEDGE = "ack"
    RESOLVE = "resolve"
    REASSIGN = "reassign"
    CHANGE_DEPARTMENT = "change_department"
    REOPEN = "reopen"
    RATE = "rate"
    ASK = "ask"  # a head asks the reporter a question
    ANSWER = "answer"  # the reporter answers the open question
    JOIN = "metoo"  # "Add me to VOC-12": the reporter joins their new report to a case
    KEEP_APART = "notsame"  # "It is new": the reporter keeps it a case of its own
    MERGE = "merge"  # a head merges a case into another one ("Merge into...")
    CUSTOMER_SAME = "customer_same"  # "Yes, it is Pied Piper": the customer is that account
    CUSTOMER_NEW = "customer_new"  # "No, another customer": the customer gets an account

    @classmethod
    def _missing_(cls, value: object) -> Action | None:
        return cls.ACKNOWLEDGE if value == "acknowledge" else None  # the use case's name


class EventAction(StrEnum):
    """What an audit event records."""

    CAPTURED = "captured"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    REASSIGNED = "reassigned"
    REROUTED = "rerouted"  # the reporter changed the suggested department
    REOPENED = "reopened"
    RATED = "rated"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    ATTACHED = "attached"  # the reporter added files to a report already stored
    ASKED = "asked"  # a head asked the reporter a question
    ANSWERED = "answered"  # the reporter answered it
    MERGED = "merged"  # this report was merged into another case
    JOINED = "joined"  # another report was merged into this case


class ScoreKind(StrEnum):
    """A customer's NPS answer, or one department's rating of another."""

    CUSTOMER = "customer"
    INTERNAL = "internal"


class ScoreSource(StrEnum):
    """Where a score came from."""

    CHAT = "chat"
    IMPORT = "import"
    HANDLING = "handling"  # a reporter rating how their case was handled
    PULSE = "pulse"


# Field limits, in characters: what people may type, and the columns that hold it.
MAX_TEXT = 4000
MAX_NOTE = 2000  # notes, reasons, questions and answers
MAX_CUSTOMER = 200
MAX_SEGMENT = 100
MAX_LINK = 1000
MAX_NAME = 200  # display names, department names
MAX_DEDUPE_KEY = 200

# Attachments (evidence on a report). One rule for every platform, so any file kept can be
# copied to every chat: Telegram's Bot API downloads at most 20 MB (getFile) and uploads photos
# up to 10 MB (larger images go as documents, up to 50 MB), so 20 MB a file is what both
# platforms carry both ways. A case holds at most 10 files (a Telegram album's size) and 50 MB
# in all: the files live in the database that every replica reads.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_CASE_FILES = 10
MAX_CASE_BYTES = 50 * 1024 * 1024
MAX_FILE_NAME = 200
# An office document (a zip) unpacks to at most this, and no large part of it is packed more
# tightly than this ratio: a few KB must not open as gigabytes on the department's computers.
MAX_UNPACKED_BYTES = 500 * 1024 * 1024
MAX_PACKING_RATIO = 100
MAX_RESOLUTION_CODE = 40  # bytes in UTF-8: a Telegram button carries it (64 bytes in all)
