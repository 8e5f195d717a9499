"""A root keyword above every written keyword, never doubled, and refused when unusable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cliptagger.core.errors import SessionError
from cliptagger.core.session.options import EngineOptions
from cliptagger.core.storage.text_rules import keyword_problem, under_root


@pytest.mark.parametrize("keyword, root, written", [
    ("Animals|dog", "AI", "AI|Animals|dog"),
    ("dog", " AI|CLIP| ", "AI|CLIP|dog"),
    ("ai|dog", "AI", "ai|dog"),            # below it already: never AI|ai|dog
    ("AIR|dog", "AI", "AI|AIR|dog"),       # a longer first level is not the root
    ("dog", "", "dog"),
])
def test_under_root(keyword, root, written):
    assert under_root(keyword, root) == written


@given(st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), min_size=1, max_size=5),
                min_size=1, max_size=3).map("|".join), st.sampled_from(["AI", "AI|CLIP", "Machine tags"]))
def test_a_rooted_keyword_is_valid_when_the_keyword_is_and_rooting_twice_changes_nothing(keyword, root):
    if keyword_problem(keyword) is None:
        rooted = under_root(keyword, root)
        assert keyword_problem(rooted) is None and rooted.casefold().startswith(root.casefold() + "|")
        assert under_root(rooted, root) == rooted


@pytest.mark.parametrize("root", ["AI||x", "A\x07I"])
def test_an_unusable_root_is_refused_with_its_reason(root):
    with pytest.raises(SessionError, match="root keyword"):
        EngineOptions(keyword_root=root)
