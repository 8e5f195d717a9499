"""cliptagger: zero-shot photo tagging with CLIP."""

from __future__ import annotations

APP_NAME = "cliptagger"


def _read_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(APP_NAME)
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


__version__ = _read_version()
