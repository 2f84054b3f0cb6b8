"""Office documents are zip archives: one is kept only if it is what its name says, holds no
program, and unpacks to a bounded size. Read from the archive's directory and each member's
first bytes, never extracted.

- OOXML (docx, xlsx, pptx): `[Content_Types].xml` names the main part's type of that format
  (a macro-enabled document declares another type and is refused as not a .docx).
- OpenDocument (odt, ods, odp): the `mimetype` member holds the format's type.
- No member is a program by name or first bytes, nor a macro project (`vbaProject.bin`).
- At most MAX_UNPACKED_BYTES in all, and no large member packed more than MAX_PACKING_RATIO
  times (a "zip bomb": 50 MB of zeros pack into 50 KB).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from enum import Enum

from bot.core.shared.domain import MAX_PACKING_RATIO, MAX_UNPACKED_BYTES

MAX_MEMBERS = 10_000
_RATIO_FROM = 1024 * 1024  # small parts (repetitive XML) may pack tighter; only large ones count
_OOXML_MAIN = {
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
             "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
             "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml"),
}
_ODF = {"odt": b"application/vnd.oasis.opendocument.text",
        "ods": b"application/vnd.oasis.opendocument.spreadsheet",
        "odp": b"application/vnd.oasis.opendocument.presentation"}
_CONTENT_TYPE = re.compile(rb"""ContentType\s*=\s*["']([^"']+)["']""")
_MACROS = "vbaproject.bin"


class OfficeProblem(Enum):
    """Why an office file is refused."""

    NOT_THAT_TYPE = "type"
    PROGRAM_INSIDE = "program"
    UNPACKS_TOO_LARGE = "unpacked"


def is_office_archive(extension: str) -> bool:
    """Whether files with this extension are zip-based office documents."""
    return extension in _OOXML_MAIN or extension in _ODF


def office_problem(extension: str, content: bytes,
                   is_program: Callable[[str, bytes], bool]) -> OfficeProblem | None:
    """Why a `.extension` office file must be refused, or None: it is one."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                return OfficeProblem.UNPACKS_TOO_LARGE
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES or any(
                    m.file_size > _RATIO_FROM
                    and m.file_size > MAX_PACKING_RATIO * max(m.compress_size, 1)
                    for m in members):
                return OfficeProblem.UNPACKS_TOO_LARGE
            for member in members:
                if member.is_dir():
                    continue
                name = member.filename.rsplit("/", 1)[-1]
                with archive.open(member) as stream:
                    head = stream.read(64)
                if name.lower() == _MACROS or is_program(name, head):
                    return OfficeProblem.PROGRAM_INSIDE
            if not _declares_its_type(archive, extension):
                return OfficeProblem.NOT_THAT_TYPE
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            ValueError, OSError):
        return OfficeProblem.NOT_THAT_TYPE  # not a readable zip (or an unknown packing)
    return None


def _declares_its_type(archive: zipfile.ZipFile, extension: str) -> bool:
    names = set(archive.namelist())
    if extension in _ODF:
        return "mimetype" in names and archive.read("mimetype").strip() == _ODF[extension]
    if "[Content_Types].xml" not in names:
        return False
    with archive.open("[Content_Types].xml") as stream:
        declared = stream.read(1024 * 1024)  # the part is a few KB; bounded all the same
    types = {found.decode("ascii", "replace").strip().lower()
             for found in _CONTENT_TYPE.findall(declared)}
    return any(main in types for main in _OOXML_MAIN[extension])
