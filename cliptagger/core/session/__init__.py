"""The facade every front end calls (``Session``) and the state it keeps per photo."""

from cliptagger.core.session.facade import Session, SessionError

__all__ = ["Session", "SessionError"]
