"""Exceptions that carry a message meant for the user, not a traceback.

One tree: every error a front end should show the user is a ``CliptaggerError``, so the
CLI and the GUI each catch it in one place (plus ``OSError`` for the file system).
"""

from __future__ import annotations

from enum import Enum
from typing import Optional


class CliptaggerError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing explanation."""


class WeightsProblem(str, Enum):
    """Why weights are unavailable: front ends choose their own words from this, not from text."""

    NOT_DOWNLOADED = "not-downloaded"    # not on this computer; downloading was not allowed this time
    OFFLINE = "offline"                  # not on this computer, and the hub cannot be reached
    DOWNLOAD_FAILED = "download-failed"  # the download was tried and failed
    CANCELLED = "cancelled"              # the user stopped the download
    FILE_MISSING = "file-missing"        # a checkpoint file that does not exist
    UNSUPPORTED = "unsupported"          # a checkpoint folder/file that is not a CLIP cliptagger can convert
    UNKNOWN = "unknown"                  # no such pretrained tag, no tag given, ...


class WeightsUnavailableError(CliptaggerError):
    """The model's weights are neither cached nor downloadable right now.

    ``str(err)`` is the full message for a terminal; the fields let a GUI say it its own way.
    """

    def __init__(self, message: str, problem: WeightsProblem = WeightsProblem.UNKNOWN, *,
                 model: str = "", size_mb: Optional[int] = None, looked_in: str = "", source: str = "",
                 detail: str = "") -> None:
        super().__init__(message)
        self.problem = problem
        self.model = model
        self.size_mb = size_mb
        self.looked_in = looked_in
        self.source = source
        #: The short technical reason (e.g. "no connection to huggingface.co").
        self.detail = detail

    @property
    def offline(self) -> bool:
        return self.problem is WeightsProblem.OFFLINE


class ModelLoadError(CliptaggerError):
    """The weights exist but could not be turned into a working model."""


class LabelSetError(CliptaggerError):
    """A label set file is malformed or inconsistent."""


class SessionError(CliptaggerError):
    """A verb that cannot run in the session's current state (e.g. no model yet)."""


class UndoError(CliptaggerError):
    """Undo cannot start: another undo holds the journal, or its folder cannot be written."""


class SearchError(CliptaggerError):
    """A query that cannot be answered (nothing to search for, an example with no embedding)."""


class ImageDecodeError(CliptaggerError):
    """One image could not be read; the run goes on without it."""
