"""cliptagger: zero-shot photo tagging with CLIP."""

from __future__ import annotations

APP_NAME = "cliptagger"


def _read_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version(APP_NAME)
    except Exception:  # not installed (e.g. a frozen bundle without metadata)
        return "0.1.0"


__version__ = _read_version()
