"""Which photos may hold embedded keywords, and the checks that a write changed nothing else.

Formats are told by their first bytes *and* their extension: a proprietary raw file is often a
TIFF inside (CR2, NEF, ARW), and cliptagger never writes into one (those keep a sidecar).

After ExifTool has written the temp copy, two checks decide whether it may replace the photo:

* the image data is unchanged: the decoded pixels (Pillow) and, for JPEG, every byte from the
  first start-of-scan marker to the end of the file (the entropy-coded image, and any preview
  images stored after it, e.g. MPF) plus the table segments it is decoded with;
* every metadata block we do not own reads the same (ExifTool ``-j -G1 -a``): all tags but the
  keyword ones, cliptagger's record, and the file system's.
"""

from __future__ import annotations

import hashlib
import io
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from cliptagger.core.metadata.exiftool_process import ExifTool
from cliptagger.core.metadata.tiff_data import tiff_image_data
from cliptagger.core.metadata.xmp import KEYWORD_PROPERTIES

if TYPE_CHECKING:
    from PIL import Image


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


def _jpeg_segments(data: bytes) -> tuple[list[bytes], int]:
    """(the segments before the first SOS, each with its marker, the SOS offset)."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    segments: list[bytes] = []
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError("damaged JPEG marker structure")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xDA:
            return segments, position
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        segments.append(data[position:position + 2 + length])
        position += 2 + length
    raise ValueError("no image data (no start-of-scan marker)")


def jpeg_scan_data(data: bytes) -> bytes:
    """Everything from the first SOS marker on: the compressed image (and what trails it)."""
    return data[_jpeg_segments(data)[1]:]


#: The segments a JPEG decoder reads besides the scans: quantisation and Huffman tables, frame
#: header, arithmetic-coding conditioning, restart interval, Adobe's colour transform (APP14).
_DECODING_MARKERS = frozenset({0xDB, 0xC4, 0xCC, 0xDD, 0xEE} | set(range(0xC0, 0xD0)))


def jpeg_decoding_data(data: bytes) -> tuple[list[bytes], bytes]:
    """What a JPEG's pixels are decoded from: (its table and frame segments, its scan data)."""
    segments, sos = _jpeg_segments(data)
    return [segment for segment in segments if segment[1] in _DECODING_MARKERS], data[sos:]


def same_image_data(original: bytes, written: bytes, fmt: EmbedFormat) -> bool:
    """True when ``written`` holds the same image as ``original``.

    JPEG: the same bytes from the start of scan to the end (the compressed image and any preview
    after it) and the same decoding segments (tables, frame header, ...): a decoder's pixels are
    a function of those alone, so a full decode would add nothing; a decode at 1/8 scale is
    compared as well. TIFF and DNG: the stored bytes of every strip and tile of every directory
    (a DNG's raw image included), and the decoded pixels where Pillow can decode them. Other
    formats: the decoded pixels, frame by frame, compared in Pillow's C code (no copy of a
    12 MP picture into Python bytes).
    """
    from PIL import Image, ImageSequence

    if fmt is EmbedFormat.JPEG and jpeg_decoding_data(original) != jpeg_decoding_data(written):
        return False
    if fmt is EmbedFormat.HEIF:
        import cliptagger.core.media.images  # noqa: F401  (registers the HEIF/AVIF decoder)
    if fmt in (EmbedFormat.TIFF, EmbedFormat.DNG):
        if tiff_image_data(original) != tiff_image_data(written):
            return False  # every strip and tile, sub-directories (a DNG's raw data) included
        try:
            Image.open(io.BytesIO(original)).load()
        except Exception:  # e.g. a DNG's lossless-JPEG raw data: the stored bytes were compared
            return True
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(written)) as after:
        if fmt is EmbedFormat.JPEG:
            for image in (before, after):
                image.draft(image.mode, (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))
            return _same_frame(before, after)  # the first frame; MPF previews are in the scan data
        frames = zip(ImageSequence.Iterator(before), ImageSequence.Iterator(after))
        if not all(_same_frame(old, new) for old, new in frames):
            return False
        return getattr(before, "n_frames", 1) == getattr(after, "n_frames", 1)


def _same_frame(old: "Image.Image", new: "Image.Image") -> bool:
    from PIL import ImageChops

    if old.mode != new.mode or old.size != new.size:
        return False
    old.load()
    new.load()
    if old.mode == "P" and old.getpalette() != new.getpalette():
        return False
    if old.mode in ("RGB", "L", "CMYK", "P", "RGBX"):  # no alpha: getbbox sees every band
        return ImageChops.difference(old, new).getbbox() is None
    if old.mode in ("RGBA", "LA"):
        return all(ImageChops.difference(a, b).getbbox() is None for a, b in zip(old.split(), new.split()))
    return hashlib.sha256(old.tobytes()).digest() == hashlib.sha256(new.tobytes()).digest()


# ------------------------------------------------------------------------------ metadata

#: Tags a keyword write may change: ours, and what ExifTool keeps in step with them (and
#: RIFF:WebP_Flags: the WebP container's "has XMP" bit, see ``_structural``).
OWNED_TAGS = frozenset({prop.exiftool_tag for prop in KEYWORD_PROPERTIES} | {
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
    return (name.endswith(("Offsets", "Offset")) or name in ("MPImageStart", "MediaDataSize")
            or key == "RIFF:WebP_Flags")


def metadata_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The tags that differ, by name (empty: the same)."""
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
