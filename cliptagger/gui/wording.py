"""Small wording helpers for messages: "1 photo", "3 photos" (never "photo(s)")."""

from __future__ import annotations

from typing import Optional


def plural(count: int, noun: str, many: Optional[str] = None) -> str:
    """``count`` with ``noun`` in the right number: ``plural(1, "sidecar")`` -> "1 sidecar"."""
    return f"{count:,} {noun if count == 1 else (many or noun + 's')}"
