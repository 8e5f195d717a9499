"""What undo needs to rebuild a photo's original bytes from the photo we wrote: a small delta.

Embedding keywords changes only a photo's metadata blocks; the image data (megabytes) is
copied, though it may move (a bigger XMP segment shifts everything after it, a TIFF's
directories are rewritten). Keeping the whole original in the undo journal would cost a
photo's size per photo. Instead the journal keeps ``delta(original, written)``: the original
as a list of "copy N bytes from offset O of the written file" and "these literal bytes", so
its size is that of the metadata that differs, not of the photo. Undo applies it to the file
on disk, which must still be exactly what was written (its SHA-256 is in the journal), and
checks that the result's SHA-256 is the original's before it puts it back.

Format: ``DELTA_MAGIC`` then records ``b"C" + offset(8) + length(8)`` or
``b"L" + length(8) + bytes``, big-endian.
"""

from __future__ import annotations

import struct

DELTA_MAGIC = b"CTD1"
#: Blocks of the written file that are indexed (a match must span at least one whole block).
BLOCK = 64
_COPY = struct.Struct(">cQQ")
_LITERAL = struct.Struct(">cQ")


class DeltaError(ValueError):
    """The delta is damaged or does not fit the file it is applied to."""


def make_delta(original: bytes, written: bytes) -> bytes:
    """The delta that turns ``written`` back into ``original``."""
    index: dict[bytes, int] = {}
    for offset in range(0, len(written) - BLOCK + 1, BLOCK):
        index.setdefault(written[offset:offset + BLOCK], offset)
    out = [DELTA_MAGIC]
    literal_start = 0
    position = 0
    limit = len(original) - BLOCK
    while position <= limit:
        # Fast path: the original continues where the last copy in ``written`` left off.
        source = index.get(original[position:position + BLOCK])
        if source is None:
            position += 1
            continue
        # Extend backwards into the pending literal, then forwards as far as both agree.
        back = 0
        while (position - back > literal_start and source - back > 0
               and original[position - back - 1] == written[source - back - 1]):
            back += 1
        start, source_start = position - back, source - back
        length = _common_length(original, start, written, source_start)
        if start > literal_start:
            out.append(_literal(original[literal_start:start]))
        out.append(_COPY.pack(b"C", source_start, length))
        position = start + length
        literal_start = position
    if literal_start < len(original):
        out.append(_literal(original[literal_start:]))
    return b"".join(out)


def _literal(data: bytes) -> bytes:
    return _LITERAL.pack(b"L", len(data)) + data


def _common_length(a: bytes, a_start: int, b: bytes, b_start: int) -> int:
    """How many bytes ``a[a_start:]`` and ``b[b_start:]`` share from their start (chunked)."""
    length = 0
    step = 1 << 16
    most = min(len(a) - a_start, len(b) - b_start)
    while length < most:
        size = min(step, most - length)
        if a[a_start + length:a_start + length + size] == b[b_start + length:b_start + length + size]:
            length += size
            continue
        if size <= 16:
            while length < most and a[a_start + length] == b[b_start + length]:
                length += 1
            return length
        step = max(16, size // 8)
    return length


def apply_delta(delta: bytes, written: bytes) -> bytes:
    """The original, rebuilt from ``written`` with ``delta``; ``DeltaError`` if they do not fit."""
    if not delta.startswith(DELTA_MAGIC):
        raise DeltaError("not an undo delta")
    out: list[bytes] = []
    position = len(DELTA_MAGIC)
    while position < len(delta):
        kind = delta[position:position + 1]
        if kind == b"C":
            if position + _COPY.size > len(delta):
                raise DeltaError("cut short")
            _kind, offset, length = _COPY.unpack_from(delta, position)
            if offset + length > len(written):
                raise DeltaError("it refers past the end of the file")
            out.append(written[offset:offset + length])
            position += _COPY.size
        elif kind == b"L":
            if position + _LITERAL.size > len(delta):
                raise DeltaError("cut short")
            _kind, length = _LITERAL.unpack_from(delta, position)
            start = position + _LITERAL.size
            if start + length > len(delta):
                raise DeltaError("cut short")
            out.append(delta[start:start + length])
            position = start + length
        else:
            raise DeltaError("damaged")
    return b"".join(out)
