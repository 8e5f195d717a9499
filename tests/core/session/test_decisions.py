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


def test_clearing_the_list_does_not_tell_the_listeners_photo_by_photo():
    """Clear List at 20,000 decided photos spent 130 ms telling the sidecar bookkeeping about
    each; it forgets everything itself."""
    from pathlib import Path

    from cliptagger.core.session.decisions import Decision, ReviewState, TagKey

    review, heard = ReviewState(), []
    review.on_change(heard.extend)
    paths = [Path(f"/p/{i}.jpg") for i in range(50)]
    for path in paths:
        review.set(path, [TagKey("Scene", "beach")], Decision.ACCEPTED)
    heard.clear()
    review.clear(notify=False)
    assert heard == [] and review.count() == 0
    review.set(paths[0], [TagKey("Scene", "beach")], Decision.ACCEPTED)
    review.clear()
    assert heard == [paths[0], paths[0]]
