from pathlib import Path

from cliptagger.core.session.decisions import Decision, ReviewState, TagKey

BEACH, CITY = TagKey("Scene", "beach"), TagKey("Scene", "city")


def test_count_is_kept_and_listeners_hear_only_real_changes():
    state, heard = ReviewState(), []
    state.on_change(heard.append)
    a, b = Path("/p/a.jpg"), Path("/p/b.jpg")
    assert state.set(a, [BEACH, CITY], Decision.ACCEPTED) == 2
    assert state.set(a, [BEACH], Decision.ACCEPTED) == 0  # the same decision again: no change
    assert state.set(b, [CITY], Decision.REJECTED) == 1
    assert state.count() == 3 and heard == [[a], [b]]
    assert state.set(a, [BEACH], None) == 1 and state.count() == 2
    assert state.get(a) == {CITY: Decision.ACCEPTED} and state.has_any(a)
    state.set(a, [CITY], None)
    assert not state.has_any(a) and state.count() == 1
    heard.clear()
    state.clear()
    assert state.count() == 0 and heard == [[b]]
