"""JSON from files cliptagger does not control: label files, settings, its own state files.

``json.loads`` alone turns ``1e999`` into infinity, reads ``NaN``, raises ``ValueError`` on a
5000-digit integer (Python's digit limit) and ``RecursionError`` on deeply nested input; each
of those became a traceback somewhere. ``loads_untrusted`` raises one error type with a
message instead, and never returns a non-finite number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from cliptagger.core.storage.fileio import read_bounded

#: More digits than any count or setting cliptagger reads (a 64-bit integer has 19).
MAX_INTEGER_DIGITS = 30


class UntrustedJSONError(ValueError):
    """The text is not JSON cliptagger accepts; the message says why in words."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise UntrustedJSONError(f"it holds a {len(text.lstrip('-'))}-digit number")
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UntrustedJSONError(f"it holds the number {text[:40]}, too large to use")
    return value


def _constant(name: str) -> Any:
    raise UntrustedJSONError(f"it holds {name}, which is not a number JSON allows")


def loads_untrusted(text: str) -> Any:
    """Parse ``text``; ``UntrustedJSONError`` (a ``ValueError``) for anything but finite,
    reasonably sized JSON, with a short reason such as "it is not valid JSON (line 3, column 5)"."""
    try:
        return json.loads(text, parse_int=_integer, parse_float=_number, parse_constant=_constant)
    except UntrustedJSONError:
        raise
    except json.JSONDecodeError as err:
        raise UntrustedJSONError(f"it is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None
    except RecursionError:
        raise UntrustedJSONError("it is nested far too deeply") from None
    except ValueError as err:  # e.g. Python's own integer digit limit
        raise UntrustedJSONError(f"it holds a value that cannot be read ({err})") from None


def read_json_file(path: Path, max_bytes: int) -> Any:
    """The JSON in a file of at most ``max_bytes``: ``UntrustedJSONError`` with a reason in words
    for a file that is too large, not UTF-8 or not JSON we accept; ``OSError`` (``FileNotFoundError``,
    ``NotARegularFile``...) when it cannot be read at all. Never blocks on a FIFO or device."""
    try:
        text = read_bounded(path, max_bytes).decode("utf-8")
    except UnicodeDecodeError:
        raise UntrustedJSONError("it is not UTF-8 text") from None
    except ValueError:
        raise UntrustedJSONError(f"it is larger than {max_bytes:,} bytes") from None
    return loads_untrusted(text)
