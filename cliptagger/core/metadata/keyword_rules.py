"""Which keyword strings cliptagger writes: only text that is valid wherever it lands.

A keyword with a control character (e.g. U+0001 from an IPTC field of a received JPEG,
picked up by ``learn`` and proposed) written raw makes the sidecar ill-formed XML: exiv2
(digiKam, darktable) then reads none of its metadata. Such keywords are refused, with a
message that shows the character, never stripped silently.
"""

from __future__ import annotations

import unicodedata
from typing import Optional


def _is_forbidden(char: str) -> bool:
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:  # C0 and C1 controls (tab and newline too: one-line keywords)
        return True
    if 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):  # surrogates, non-characters: not XML
        return True
    return unicodedata.category(char) == "Cn" and (code & 0xFFFE) == 0xFFFE  # U+nFFFE / U+nFFFF


def keyword_problem(keyword: str) -> Optional[str]:
    """Why ``keyword`` cannot be written (None: it can)."""
    if not keyword.strip():
        return "it is empty"
    bad = sorted({f"U+{ord(c):04X}" for c in keyword if _is_forbidden(c)})
    if bad:
        return f"it holds {'a control character' if len(bad) == 1 else 'control characters'} ({', '.join(bad)})"
    return None


def shown(text: str) -> str:
    """``text`` with every control character, surrogate and non-character escaped (``\\x01``,
    ``\\ud800``): safe to print to a terminal or put in a message."""
    out = []
    for char in text:
        if _is_forbidden(char) or unicodedata.category(char) in ("Zl", "Zp"):  # line breaks, too
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)
