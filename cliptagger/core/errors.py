"""Exceptions that carry a message meant for the user, not a traceback."""

from __future__ import annotations


class CliptaggerError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing explanation."""


class WeightsUnavailableError(CliptaggerError):
    """The model's weights are neither cached nor downloadable right now."""


class ModelLoadError(CliptaggerError):
    """The weights exist but could not be turned into a working model."""


class LabelSetError(CliptaggerError):
    """A label set file is malformed or inconsistent."""


class ImageDecodeError(CliptaggerError):
    """One image could not be read; the run goes on without it."""
