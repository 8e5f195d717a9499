"""Decisions made in an earlier session come back in force when their photo is tagged again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cliptagger.core.session.decisions import Decision, TagKey

if TYPE_CHECKING:
    from cliptagger.core.session.facade import Session


def restore_decisions(session: "Session", path: Path) -> None:
    """Decisions recorded for this photo in an earlier session come back in force."""
    model_id = session.model_id
    if model_id is None or session.review.has_any(path):
        return
    decisions = session.learner.examples().decisions_for([path], model_id).get(path, [])
    for set_name, keyword, positive in decisions:
        session.review.set(path, [TagKey(set_name, keyword)], Decision.ACCEPTED if positive else Decision.REJECTED)
    accepted = session.accepted_keywords(path)
    if decisions and accepted:
        # Already in the photo's sidecar (written in an earlier session): nothing to write now,
        # so quitting does not ask about tags that are on disk already.
        on_disk = {k.casefold() for k in session.existing_keywords(path)}
        if all(k.casefold() in on_disk for k in accepted):
            session.sidecars.mark_written({path: accepted})
