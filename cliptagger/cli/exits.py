"""The CLI's exit codes (documented in ``cliptagger/cli/__init__.py``)."""

from __future__ import annotations

EXIT_OK = 0
#: nothing could be tagged (or found)
EXIT_NOTHING_TAGGED = 1
#: a usage or setup problem: a bad label file, model weights missing, ...
EXIT_SETUP = 2
#: tagged, but at least one sidecar could not be written (each is named on stderr)
EXIT_SIDECARS_FAILED = 3
EXIT_INTERRUPTED = 130
