"""Which photos may hold embedded keywords, and the checks that a write changed nothing else.

Formats are told by their first bytes *and* their extension: a proprietary raw file is often a
TIFF inside (CR2, NEF, ARW), and cliptagger never writes into one (those keep a sidecar).

After ExifTool has written the temp copy, two checks decide whether it may replace the photo:

* the image data is unchanged: the decoded pixels (Pillow) and, for JPEG, every byte from the
  first start-of-scan marker to the end of the file (the entropy-coded image, and any preview
  images stored after it, e.g. MPF);
* every metadata block we do not own reads the same (ExifTool ``-j -G1 -a``): all tags but the
  keyword ones, cliptagger's record, and the file system's.
"""

from __future__ import annotations

import hashlib
import io
import json
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from cliptagger.core.metadata.exiftool_process import ExifTool


class EmbedFormat(str, Enum):
    JPEG = "jpeg"
    TIFF = "tiff"
    DNG = "dng"
    PNG = "png"
    WEBP = "webp"
    HEIF = "heif"   # HEIC and AVIF: only with their own opt-in


EXTENSIONS: dict[str, EmbedFormat] = {
    ".jpg": EmbedFormat.JPEG, ".jpeg": EmbedFormat.JPEG, ".jpe": EmbedFormat.JPEG,
    ".tif": EmbedFormat.TIFF, ".tiff": EmbedFormat.TIFF, ".dng": EmbedFormat.DNG,
    ".png": EmbedFormat.PNG, ".webp": EmbedFormat.WEBP,
    ".heic": EmbedFormat.HEIF, ".heif": EmbedFormat.HEIF, ".avif": EmbedFormat.HEIF,
}


def _magic_matches(fmt: EmbedFormat, head: bytes) -> bool:
    if fmt is EmbedFormat.JPEG:
        return head.startswith(b"\xff\xd8\xff")
    if fmt in (EmbedFormat.TIFF, EmbedFormat.DNG):
        return head[:4] in (b"II*\x00", b"MM\x00*")
    if fmt is EmbedFormat.PNG:
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if fmt is EmbedFormat.WEBP:
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return head[4:8] == b"ftyp"


def embed_format(path: Path, head: bytes, allow_heif: bool = False) -> tuple[Optional[EmbedFormat], str]:
    """(the format to embed into, "") or (None, why this photo keeps a sidecar instead)."""
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        return None, f"{path.suffix or 'no extension'}: not a format cliptagger writes into (raw files keep a sidecar)"
    if fmt is EmbedFormat.HEIF and not allow_heif:
        return None, "HEIC/AVIF: writing into these needs its own opt-in (--embed-heif)"
    if not _magic_matches(fmt, head):
        return None, f"the file's content is not the {fmt.value.upper()} its name says; left untouched"
    return fmt, ""


# ------------------------------------------------------------------------------ image data


def jpeg_scan_data(data: bytes) -> bytes:
    """Everything from the first SOS marker on: the compressed image (and what trails it)."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError("damaged JPEG marker structure")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xDA:
            return data[position:]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        position += 2 + length
    raise ValueError("no image data (no start-of-scan marker)")


def image_fingerprint(data: bytes, fmt: EmbedFormat) -> str:
    """A hash of the decoded pixels (every frame), plus the scan bytes for JPEG."""
    from PIL import Image, ImageSequence

    digest = hashlib.sha256()
    if fmt is EmbedFormat.JPEG:
        digest.update(jpeg_scan_data(data))
    with Image.open(io.BytesIO(data)) as image:
        for frame in ImageSequence.Iterator(image):
            digest.update(f"{frame.mode} {frame.size}".encode("ascii"))
            digest.update(frame.tobytes())
            if fmt is EmbedFormat.JPEG:
                break  # MPF previews: covered byte for byte by the scan data above
    return digest.hexdigest()


# ------------------------------------------------------------------------------ metadata

#: Tags a keyword write may change: ours, and what ExifTool keeps in step with them (and
#: RIFF:WebP_Flags: the WebP container's "has XMP" bit, see ``_structural``).
OWNED_TAGS = frozenset({
    "XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList",
    "XMP-x:XMPToolkit", "XMP-xmpNote:HasExtendedXMP",
    "IPTC:Keywords", "IPTC:CodedCharacterSet", "Photoshop:IPTCDigest", "IFD0:XPKeywords",
    "IPTC:EnvelopeRecordVersion",  # comes with CodedCharacterSet (the envelope record's header)
})
#: Whole groups that describe the file, not its metadata (name, size, dates, permissions...).
UNOWNED_GROUPS_SKIPPED = frozenset({"System", "File", "ExifTool", "Composite", "XMP-cliptagger"})


def foreign_metadata(exiftool: ExifTool, path: Path) -> dict[str, Any]:
    """Every tag ExifTool reads in ``path`` except the ones a keyword write may change."""
    reply = exiftool.execute("-j", "-G1", "-a", "-struct", "-n", "-api", "largefilesupport=1", str(path))
    try:
        found = json.loads(reply.stdout.decode("utf-8", "replace"))[0]
    except (ValueError, IndexError, TypeError):
        raise ValueError(f"ExifTool could not read the metadata of {path.name}: {reply.stderr.strip()}") from None
    return {key: value for key, value in found.items()
            if key not in OWNED_TAGS and key.split(":", 1)[0] not in UNOWNED_GROUPS_SKIPPED
            and key != "SourceFile" and not _structural(key)}


def _structural(key: str) -> bool:
    """Where a block lies in the file, not what it says: a TIFF's strips move when its
    directory grows (the strips' bytes are compared as decoded pixels instead)."""
    name = key.split(":", 1)[-1]
    return name.endswith(("Offsets", "Offset")) or name == "MPImageStart" or key == "RIFF:WebP_Flags"


def metadata_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The tags that differ, by name (empty: the same)."""
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
