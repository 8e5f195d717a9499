"""Durations as people read them (``1:05``, ``2:03:07``): the CLI's bar and the app's status bar."""

from __future__ import annotations

from typing import Optional


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
