"""Evidence: the files a report carries (photos, documents, recordings), checked before they
are kept. A file is kept only if its name's extension AND its first bytes say the same allowed
type; executables and unknown binaries are refused by either. Office documents are opened as
the archives they are (office_files.py). Limits per file, per case (count
and bytes) are in domain.py. A refused file is named in its refusal; the report and its other
files are kept all the same.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.capture.office_files import OfficeProblem, is_office_archive, office_problem
from bot.core.capture.photo_metadata import without_metadata
from bot.core.shared.domain import (
    MAX_CASE_BYTES,
    MAX_CASE_FILES,
    MAX_FILE_BYTES,
    MAX_FILE_NAME,
    MAX_PACKING_RATIO,
    MAX_UNPACKED_BYTES,
)
from bot.core.shared.errors import InvalidInput
from bot.core.shared.i18n import N_
from storage.files import NewAttachment, StoredAttachment
from storage.outbox import NewMessage


@dataclass(frozen=True)
class IncomingFile:
    """A file as a platform gave it. `content` is None when the adapter did not download it
    (its declared `size` is over the limit already, or it is `external`: stored on another
    service, reached through the reported message, never fetched)."""

    name: str
    content: bytes | None
    size: int
    mime: str | None = None  # what the platform claims; the kept type is ours
    external: bool = False


@dataclass(frozen=True)
class KeptFile:
    """A file that passed every check, with the type we determined."""

    name: str
    content: bytes
    mime: str

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Screened:
    """What a batch of files came to: the ones kept, and a refusal for each other one."""

    kept: tuple[KeptFile, ...] = ()
    refused: tuple[InvalidInput, ...] = ()


# Executables and scripts, refused by name whatever their bytes say.
_EXECUTABLE_NAMES = frozenset({
    "exe", "dll", "com", "scr", "msi", "msp", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js",
    "jse", "wsf", "wsh", "hta", "cpl", "jar", "apk", "ipa", "app", "dmg", "pkg", "deb", "rpm",
    "sh", "bash", "zsh", "run", "bin", "elf", "so", "dylib", "lnk", "reg", "iso", "img"})
# Executables by their first bytes (Windows PE, ELF, Mach-O, Java class, a script's #!).
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                     b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _ftyp(head: bytes) -> bool:  # ISO media (mp4, mov, m4a, heic): "....ftyp"
    return head[4:8] == b"ftyp"


Check = Callable[[bytes], bool]  # does a file's head look like its type?


def _riff(kind: bytes) -> Check:
    return lambda head: head[:4] == b"RIFF" and head[8:12] == kind


def _starts(*magics: bytes) -> Check:
    return lambda head: any(head.startswith(m) for m in magics)


def _text(head: bytes) -> bool:
    return b"\x00" not in head


_MP3 = _starts(b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
# Allowed extensions: (the type we keep, how its first bytes must look).
_ALLOWED: dict[str, tuple[str, Check]] = {
    "jpg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "jpeg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "png": ("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    "gif": ("image/gif", _starts(b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", _riff(b"WEBP")),
    "heic": ("image/heic", _ftyp),
    "heif": ("image/heif", _ftyp),
    "pdf": ("application/pdf", _starts(b"%PDF-")),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             _starts(_ZIP)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             _starts(_ZIP)),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",
             _starts(_ZIP)),
    "odt": ("application/vnd.oasis.opendocument.text", _starts(_ZIP)),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", _starts(_ZIP)),
    "odp": ("application/vnd.oasis.opendocument.presentation", _starts(_ZIP)),
    "doc": ("application/msword", _starts(_OLE)),
    "xls": ("application/vnd.ms-excel", _starts(_OLE)),
    "ppt": ("application/vnd.ms-powerpoint", _starts(_OLE)),
    "rtf": ("application/rtf", _starts(b"{\\rtf")),
    "txt": ("text/plain", _text),
    "log": ("text/plain", _text),
    "md": ("text/markdown", _text),
    "csv": ("text/csv", _text),
    "eml": ("message/rfc822", _text),
    "mp3": ("audio/mpeg", _MP3),
    "m4a": ("audio/mp4", _ftyp),
    "ogg": ("audio/ogg", _starts(b"OggS")),
    "oga": ("audio/ogg", _starts(b"OggS")),
    "opus": ("audio/ogg", _starts(b"OggS")),
    "wav": ("audio/wav", _riff(b"WAVE")),
    "mp4": ("video/mp4", _ftyp),
    "mov": ("video/quicktime", _ftyp),
    "webm": ("video/webm", _starts(b"\x1a\x45\xdf\xa3")),
    "mkv": ("video/x-matroska", _starts(b"\x1a\x45\xdf\xa3")),
}
ALLOWED_EXTENSIONS = tuple(sorted(_ALLOWED))
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")
# Direction marks and overrides: "photo\u202egnp.pdf" shows as "photofdp.png".
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_name(name: str) -> str:
    """A file name safe to show and to send back: no path, no control characters, no
    direction controls (which make a name show another extension than it has)."""
    base = _UNSAFE_NAME.sub("_", _BIDI_CONTROLS.sub("", (name or "").strip()).rsplit(
        "/", 1)[-1]).strip(" .")
    if len(base) > MAX_FILE_NAME:
        stem, dot, extension = base.rpartition(".")
        base = (stem[:MAX_FILE_NAME - len(extension) - 1] + dot + extension) if dot else (
            base[:MAX_FILE_NAME])
    return base or "file"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


def too_big(name: str, size: int) -> InvalidInput | None:
    """The refusal of a file too large to keep (adapters ask before downloading it)."""
    if size > MAX_FILE_BYTES:
        return InvalidInput(
            N_("“%(name)s” was not attached: it is %(size)s MB, and a file may have at most "
               "%(limit)s MB."), name=clean_name(name), size=_megabytes(size),
            limit=_megabytes(MAX_FILE_BYTES)).at("files")
    return None


def _program_inside(name: str, head: bytes) -> bool:
    """Is an archive's member a program? (".bin" parts are printer settings and embedded
    objects in ordinary office files: judged by their bytes only.)"""
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return (extension in _EXECUTABLE_NAMES and extension != "bin") or any(
        head.startswith(m) for m in _EXECUTABLE_MAGIC)


def type_of(name: str, content: bytes) -> str | InvalidInput:
    """The type a file is kept as, or why it is refused: its extension must be allowed and
    its first bytes must agree (an executable is refused by either)."""
    shown = clean_name(name)
    extension = shown.rpartition(".")[2].lower() if "." in shown else ""
    head = content[:64]
    if extension in _EXECUTABLE_NAMES or any(head.startswith(m) for m in _EXECUTABLE_MAGIC):
        return InvalidInput(N_("“%(name)s” was not attached: programs and scripts are not "
                               "accepted."), name=shown).at("files")
    allowed = _ALLOWED.get(extension)
    if allowed is None:
        return InvalidInput(
            N_("“%(name)s” was not attached: this type of file is not accepted (photos, "
               "PDF, office documents, text, audio and video are)."), name=shown).at("files")
    mime, looks_right = allowed
    office = (office_problem(extension, content, _program_inside)
              if looks_right(head) and is_office_archive(extension) else None)
    if office is OfficeProblem.PROGRAM_INSIDE:
        return InvalidInput(N_("“%(name)s” was not attached: it holds a program or macros, "
                               "and those are not accepted."), name=shown).at("files")
    if office is OfficeProblem.UNPACKS_TOO_LARGE:
        return InvalidInput(N_("“%(name)s” was not attached: it unpacks to far more than its "
                               "size (over %(limit)s MB, or packed over %(ratio)d times)."),
                            name=shown, limit=_megabytes(MAX_UNPACKED_BYTES),
                            ratio=MAX_PACKING_RATIO).at("files")
    if not looks_right(head) or office is not None:
        return InvalidInput(
            N_("“%(name)s” was not attached: its contents are not a .%(extension)s file."),
            name=shown, extension=extension).at("files")
    return mime


def screen(files: Sequence[IncomingFile], *, count: int = 0, size: int = 0) -> Screened:
    """Check files for a case that already holds `count` files of `size` bytes: the ones to
    keep (in order) and a refusal naming each other one and the limit it broke."""
    kept: list[KeptFile] = []
    refused: list[InvalidInput] = []
    for file in files:
        name = clean_name(file.name)
        length = len(file.content) if file.content is not None else file.size
        problem = None if file.external else too_big(name, length)
        if problem is None and file.external:
            problem = InvalidInput(N_("“%(name)s” was not attached: it is stored outside the "
                                      "chat, so it was not copied; the department can open it "
                                      "from the reported message."), name=name).at("files")
        if problem is None and file.content is None:
            problem = InvalidInput(N_("“%(name)s” was not attached: it could not be "
                                      "downloaded."), name=name).at("files")
        if problem is None and count + len(kept) >= MAX_CASE_FILES:
            problem = InvalidInput(N_("“%(name)s” was not attached: a report may have at most "
                                      "%(limit)d files."), name=name,
                                   limit=MAX_CASE_FILES).at("files")
        if problem is None and size + sum(k.size for k in kept) + length > MAX_CASE_BYTES:
            problem = InvalidInput(
                N_("“%(name)s” was not attached: a report's files may have at most %(limit)s "
                   "MB in all."), name=name, limit=_megabytes(MAX_CASE_BYTES)).at("files")
        if problem is None:
            assert file.content is not None
            mime = type_of(name, file.content)
            if isinstance(mime, InvalidInput):
                problem = mime
            else:
                kept.append(KeptFile(name, without_metadata(mime, file.content), mime))
                continue
        refused.append(problem)
    return Screened(tuple(kept), tuple(refused))


# -- delivery: each file follows each card of the case, as a reply to it ----------------------
def deliveries(ref: str, attachments: Sequence[StoredAttachment],
               cards: Sequence[tuple[str, str]]) -> list[NewMessage]:
    """The outbox rows that post `attachments` under each card (`cards`: destination and
    card key). A row waits until its card is posted (it needs the card's message id); its
    dedupe key makes it once per file and card."""
    count = len(attachments)
    return [NewMessage(
        dedupe_key=f"file:{a.id}@{key}", destination=destination, operation="send_file",
        card_key=key, payload={"attachment": {
            "id": a.id, "sha256": a.sha256, "filename": a.filename, "mime": a.mime,
            "caption": f"{ref} · {index}/{count} · {a.filename}" if count > 1
            else f"{ref} · {a.filename}"}})
        for destination, key in cards for index, a in enumerate(attachments, 1)]


def to_keep(files: Sequence[KeptFile], *, source: str | None, album: str | None,
            anonymous: bool = False, before: int = 0) -> list[NewAttachment]:
    """Checked files as storage keeps them; `source` (the platform message's id) makes a
    re-delivered message attach nothing twice. An anonymous report's files are named
    neutrally ("attachment-3.jpg", after the case's `before` files): a file name often
    carries its author's ("Ivanov_photo.jpg", a phone's or a scanner's)."""
    return [NewAttachment(_neutral(f.name, before + index + 1) if anonymous else f.name,
                          f.mime, f.content, f.sha256,
                          source_key=f"{source}#{index}" if source else None, album=album)
            for index, f in enumerate(files)]


def _neutral(name: str, number: int) -> str:
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return f"attachment-{number}" + (f".{extension}" if extension else "")
