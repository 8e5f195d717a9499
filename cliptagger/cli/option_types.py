"""argparse types for numbers, so that every option refuses what it cannot use with a message
that says what is allowed (``--top -1``, ``--target-precision nan`` used to be accepted)."""

from __future__ import annotations

import argparse
import math
from typing import Callable, Optional


def whole_number(low: int, high: Optional[int] = None) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (no upper limit when None)."""
    allowed = f"a whole number from {low} to {high}" if high is not None else f"a whole number, {low} or more"

    def parse(text: str) -> int:
        try:
            value = int(text) if len(text) <= 30 else None
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {allowed}")
        return value
    return parse


def number(low: float, high: float) -> Callable[[str], float]:
    """A finite number from ``low`` to ``high`` (``nan`` and ``inf`` are refused)."""
    def parse(text: str) -> float:
        try:
            value = float(text) if len(text) <= 40 else math.nan
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number from {low:g} to {high:g}")
        return value
    return parse


#: Images per encoder batch: more than this would not fit any accelerator's memory at 224 px.
batch_size = whole_number(1, 4096)
