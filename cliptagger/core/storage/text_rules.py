"""Which strings cliptagger writes or reads as names: only text valid wherever it lands.

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


#: Between the levels of a hierarchical keyword (``Animals|dog``), as Lightroom writes them.
LEVEL_SEPARATOR = "|"


def keyword_form(keyword: str) -> str:
    """``keyword`` as it is written: without white space (any, as every reader strips it) or
    level separators at its ends, e.g. ``" |Animals|dog\u00a0"`` -> ``"Animals|dog"``."""
    previous = None
    while previous != keyword:
        previous, keyword = keyword, keyword.strip().strip(LEVEL_SEPARATOR)
    return keyword


def under_root(keyword: str, root: str) -> str:
    """``keyword`` below the root keyword ``root`` (``AI`` + ``Animals|dog`` -> ``AI|Animals|dog``);
    unchanged when ``root`` is empty or the keyword is below it already (never ``AI|AI|...``)."""
    keyword, root = keyword_form(keyword), keyword_form(root)
    if not root or not keyword or (keyword + LEVEL_SEPARATOR).casefold().startswith((root + LEVEL_SEPARATOR).casefold()):
        return keyword
    return f"{root}{LEVEL_SEPARATOR}{keyword}"


def keyword_problem(keyword: str) -> Optional[str]:
    """Why ``keyword`` (``A|B|leaf`` form, taken in its ``keyword_form``) cannot be written or
    be a label (None: it can)."""
    levels = keyword_form(keyword).split(LEVEL_SEPARATOR)
    if not levels[0].strip():
        return "it is empty"
    if not all(level.strip() for level in levels):
        return f"it has an empty level between '{LEVEL_SEPARATOR}' separators"
    return characters_problem(keyword)


def characters_problem(text: str) -> Optional[str]:
    """Why ``text`` cannot be a keyword, label or set name: the control characters,
    surrogates or non-characters it holds, shown as code points (None: it has none)."""
    bad = sorted({ord(c) for c in text if _is_forbidden(c)})
    if not bad:
        return None
    controls = all(code < 0xD800 for code in bad)
    kind = "control character" if controls else "character that is not valid text"
    listed = ", ".join(f"U+{code:04X}" for code in bad)
    return f"it holds {'a ' + kind if len(bad) == 1 else kind.replace('character', 'characters', 1)} ({listed})"


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
