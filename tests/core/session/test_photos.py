from pathlib import Path

from cliptagger.core.session.photos import PhotoTable
from cliptagger.core.tagging.engine import ImageFailure
from tests.core.session.scenes import scored


def test_counts_follow_every_outcome_and_a_photo_counts_once():
    table = PhotoTable()
    a, b, c = Path("/p/a.jpg"), Path("/p/b.jpg"), Path("/p/c.jpg")
    assert table.add([a, b, a]) == [a, b]
    table.store(scored(a))
    table.store(ImageFailure(b, "cannot decode"))
    table.store(scored(c))  # tagged without being added first: added
    counts = table.counts()
    assert (counts.photos, counts.tagged, counts.failed, counts.pending) == (3, 2, 1, 0)
    table.store(scored(b))  # the failure was retried and worked
    table.store(scored(a))  # a second result replaces the first, counted once
    assert (table.counts().tagged, table.counts().failed) == (3, 0)
    assert table.failure(b) == "" and table.result(b) is not None
    table.forget_outcomes()
    assert (table.counts().tagged, table.counts().pending) == (0, 3) and table.pending() == [a, b, c]
    table.remove_all()
    assert table.counts().photos == 0 and table.paths() == []


def test_changes_bump_only_when_something_changed():
    table = PhotoTable()
    before = table.changes
    table.add([Path("/p/a.jpg")])
    after_add = table.changes
    table.add([Path("/p/a.jpg")])  # nothing new
    assert after_add > before and table.changes == after_add
    table.store(scored(Path("/p/a.jpg")))
    assert table.changes > after_add
