"""The headless front end: ``cliptagger tag``, ``learn``, ``search``, ``explain``, ``models``, ``demo``,
``undo``, ``cache`` and ``export-keywords``; one module per command, each registering its parser with
``set_defaults(func=...)``, all sharing ``session_setup.open_session``.

Exit codes: 0 something was tagged; 1 nothing could be tagged; 2 a usage or setup
problem (bad label file, model weights missing, ...); 3 tagged, but at least one sidecar
could not be written (each is named on stderr, none was changed); 130 interrupted.
"""

from cliptagger.cli.app import build_parser, main
from cliptagger.cli.exits import (
    EXIT_INTERRUPTED,
    EXIT_NOTHING_TAGGED,
    EXIT_OK,
    EXIT_SETUP,
    EXIT_SIDECARS_FAILED,
)

__all__ = ["EXIT_INTERRUPTED", "EXIT_NOTHING_TAGGED", "EXIT_OK", "EXIT_SETUP", "EXIT_SIDECARS_FAILED",
           "build_parser", "main"]
