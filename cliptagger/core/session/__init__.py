"""The facade every front end calls (``Session``) and the collaborators behind it:
``photos`` (results, failures), ``decisions`` (review), ``learner``, ``sidecar_sync`` (what is on
disk, what is unwritten) and ``searcher``. They own their state and never call each other."""

from cliptagger.core.errors import SessionError
from cliptagger.core.session.facade import Session, SessionCounts
from cliptagger.core.session.options import EngineOptions

__all__ = ["EngineOptions", "Session", "SessionCounts", "SessionError"]
