"""Library scale: what the UI thread asks the session per interaction costs the same work at
2,000 and at 20,000 photos (work counted, not timed)."""

from pathlib import Path

import pytest

from cliptagger.core.session import Session
from cliptagger.core.session import facade as facade_module
from cliptagger.core.session.decisions import Decision, TagKey
from tests.core.session.scenes import SCENE, library, scored


def session_of(count: int) -> tuple[Session, list[Path]]:
    session = Session([SCENE])
    paths = library(count)
    session.add(paths)
    for path in paths:
        session.photos.store(scored(path))
    return session, paths


def interactions(session: Session, paths: list[Path]) -> None:
    """What the app does per click: one photo decided, the counts, the row's status."""
    session.decide([paths[7]], Decision.ACCEPTED)
    session.decide([paths[8]], Decision.REJECTED, TagKey("Scene", "beach"))
    session.counts()
    session.is_written(paths[7])
    session.decide(paths[100:110], Decision.ACCEPTED)  # a selection of ten
    session.counts()


@pytest.mark.parametrize("count", [2_000, 20_000])
def test_per_click_work_does_not_grow_with_the_library(count, monkeypatch):
    calls = []
    real = facade_module.review_rows
    monkeypatch.setattr(facade_module, "review_rows", lambda *a: calls.append(1) or real(*a))
    session, paths = session_of(count)
    calls.clear()
    interactions(session, paths)
    # decided photos only: 1 + 10 to find the proposals (a decision on a named tag needs none),
    # and 1 + 1 + 10 to note what each decided photo now has accepted
    assert len(calls) == 23
    counts = session.counts()
    assert (counts.photos, counts.tagged, counts.unwritten, counts.decisions) == (count, count, 11, 12)


def test_unwritten_matches_a_full_recount_after_a_mixed_history():
    session, paths = session_of(300)
    session.decide(paths[:50], Decision.ACCEPTED)
    session.decide(paths[10:20], Decision.REJECTED)
    session.decide(paths[20:25], None)
    session.sidecars.mark_written({p: session.accepted_keywords(p) for p in paths[30:40]})
    session.decide(paths[35:45], Decision.REJECTED)
    session.review.clear()  # straight at the decisions: the session still hears it
    session.decide(paths[60:65], Decision.ACCEPTED)
    # written with "beach", then every decision cleared: their tags must come out again;
    # accepted and never written: must be written. Nothing else.
    expected = paths[30:40] + paths[60:65]
    assert session.unwritten() == expected and session.counts().unwritten == len(expected)
    assert [p for p in paths if session.is_written(p)] == []
