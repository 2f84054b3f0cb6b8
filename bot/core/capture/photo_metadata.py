"""Photos lose what their camera or phone wrote about them (owner's name, GPS position, device,
dates, thumbnails, XMP), and keep every pixel: the metadata is cut out of the file as it is, no
image is decoded or re-encoded.

- JPEG: the APP1 (EXIF, XMP), APP3-APP13, APP15 and comment segments go, and APP2 except a
  colour profile (ICC); what follows the image's end (a second, embedded picture) goes too. A
  photo turned by its EXIF orientation keeps that one tag, so it still shows upright.
- PNG: the text chunks (tEXt, zTXt, iTXt), eXIf and tIME go, and anything after IEND.
- WebP: the EXIF and XMP chunks go (and their flags in VP8X).
Anything the parser cannot follow is kept from there on as it is: a viewer could not read
metadata beyond that point either. HEIC and GIF are kept as sent.
"""

from __future__ import annotations

import struct

_JPEG_DROP = {0xE1, *range(0xE3, 0xEE), 0xEF, 0xFE}  # APP1, APP3-APP13, APP15, COM
_PNG_DROP = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ORIENTATION = 0x0112


def without_metadata(mime: str, content: bytes) -> bytes:
    """The file's bytes without its metadata (other types as they are)."""
    if mime == "image/jpeg":
        return _jpeg(content)
    if mime == "image/png":
        return _png(content)
    if mime == "image/webp":
        return _webp(content)
    return content


def _jpeg(data: bytes) -> bytes:
    out, position, orientation = bytearray(data[:2]), 2, 1
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xD9:  # the end of the image: what trails it is dropped
            return _with_orientation(bytes(out + data[position:position + 2]), orientation)
        if marker == 0xFF:  # a fill byte before the marker
            position += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn, TEM: no length
            out += data[position:position + 2]
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        end = position + 2 + length
        if length < 2 or end > len(data):
            break
        body = data[position + 4:end]
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            orientation = _orientation(body[6:]) or orientation
        keep = marker not in _JPEG_DROP and not (
            marker == 0xE2 and not body.startswith(b"ICC_PROFILE\x00"))
        if keep:
            out += data[position:end]
        position = end
        if marker == 0xDA:  # entropy-coded data runs to the next marker that is not RSTn
            scan = position
            while scan + 1 < len(data) and not (
                    data[scan] == 0xFF and data[scan + 1] not in (0x00, *range(0xD0, 0xD8))):
                scan += 1
            out += data[position:scan]
            position = scan
    return _with_orientation(bytes(out + data[position:]), orientation)


def _orientation(tiff: bytes) -> int | None:
    """EXIF's Orientation (1-8) from IFD0 of its TIFF structure, if it is there."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    offset = struct.unpack(order + "I", tiff[4:8])[0]
    if offset + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[offset:offset + 2])[0]
    for index in range(count):
        entry = tiff[offset + 2 + 12 * index:offset + 14 + 12 * index]
        if len(entry) < 12:
            return None
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == _ORIENTATION and kind == 3:
            value = int(struct.unpack(order + "H", entry[8:10])[0])
            return value if 1 <= value <= 8 else None
    return None


def _with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """`jpeg` with an EXIF segment holding only the Orientation tag (when it turns the
    picture), after SOI and a JFIF APP0 if there is one."""
    if orientation == 1:
        return jpeg
    tiff = (b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
            + struct.pack("<HHIHH", _ORIENTATION, 3, 1, orientation, 0) + struct.pack("<I", 0))
    body = b"Exif\x00\x00" + tiff
    segment = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    at = 2
    if jpeg[2:4] == b"\xff\xe0":
        at = 4 + int.from_bytes(jpeg[4:6], "big")
    return jpeg[:at] + segment + jpeg[at:]


def _png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        return data
    out, position = bytearray(_PNG_SIGNATURE), len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind, end = data[position + 4:position + 8], position + 12 + length
        if end > len(data):
            break
        if kind not in _PNG_DROP:
            out += data[position:end]
        position = end
        if kind == b"IEND":
            return bytes(out)
    return bytes(out + data[position:])


def _webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return data
    chunks, position = bytearray(), 12
    while position + 8 <= len(data):
        kind = data[position:position + 4]
        size = int.from_bytes(data[position + 4:position + 8], "little")
        end = position + 8 + size + (size & 1)
        if end > len(data):
            break
        chunk = bytearray(data[position:end])
        if kind == b"VP8X" and size >= 1:
            chunk[8] &= ~0x0C & 0xFF  # no EXIF (0x08), no XMP (0x04) any more
        if kind not in (b"EXIF", b"XMP "):
            chunks += chunk
        position = end
    chunks += data[position:]
    return b"RIFF" + (len(chunks) + 4).to_bytes(4, "little") + b"WEBP" + bytes(chunks)
