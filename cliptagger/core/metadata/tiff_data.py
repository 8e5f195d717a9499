"""The image data of a TIFF-based file (TIFF, DNG), as stored: every strip and tile of every
image directory, sub-directories (a DNG's raw image, its previews) included.

ExifTool copies these bytes when it rewrites a TIFF's directories; they may move, so offsets
differ, but the bytes must not. Comparing them checks a DNG's raw data even where no decoder
is at hand (lossless-JPEG raw data, which Pillow cannot read).
"""

from __future__ import annotations

import struct

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_PAIRS = ((273, 279), (324, 325), (513, 514))  # strips, tiles, JPEG thumbnail: offsets, byte counts
SUB_IFDS = 330
MAX_DIRECTORIES = 256


def tiff_image_data(data: bytes) -> list[bytes]:
    """Each directory's image bytes, in directory order; ``ValueError`` for a damaged file."""
    if data[:4] == b"II*\x00":
        order = "<"
    elif data[:4] == b"MM\x00*":
        order = ">"
    else:
        raise ValueError("not a TIFF")
    pending = [struct.unpack_from(order + "I", data, 4)[0]]
    seen: set[int] = set()
    found: list[bytes] = []
    while pending:
        offset = pending.pop(0)
        if offset == 0 or offset in seen:
            continue
        if len(seen) >= MAX_DIRECTORIES or offset + 2 > len(data):
            raise ValueError("damaged TIFF directory chain")
        seen.add(offset)
        tags, next_offset = _directory(data, order, offset)
        for offsets_tag, counts_tag in _PAIRS:
            starts, counts = tags.get(offsets_tag, []), tags.get(counts_tag, [])
            if counts_tag == 514 and starts and counts:  # one thumbnail: offset + length
                found.append(data[starts[0]:starts[0] + counts[0]])
                continue
            for start, count in zip(starts, counts):
                found.append(data[start:start + count])
        pending.extend(tags.get(SUB_IFDS, []))
        pending.append(next_offset)
    return found


def _directory(data: bytes, order: str, offset: int) -> tuple[dict[int, list[int]], int]:
    (count,) = struct.unpack_from(order + "H", data, offset)
    end = offset + 2 + 12 * count
    if end + 4 > len(data):
        raise ValueError("damaged TIFF directory")
    tags: dict[int, list[int]] = {}
    for index in range(count):
        tag, kind, number, value = struct.unpack_from(order + "HHI4s", data, offset + 2 + 12 * index)
        if tag not in (273, 279, 324, 325, 513, 514, SUB_IFDS) or kind not in (3, 4, 13):
            continue
        size = _TYPE_SIZES[kind] * number
        if size <= 4:
            raw = value[:size]
        else:
            (where,) = struct.unpack(order + "I", value)
            if where + size > len(data):
                raise ValueError("damaged TIFF directory entry")
            raw = data[where:where + size]
        code = "H" if kind == 3 else "I"
        tags[tag] = list(struct.unpack(order + code * number, raw))
    (next_offset,) = struct.unpack_from(order + "I", data, end)
    return tags, next_offset
