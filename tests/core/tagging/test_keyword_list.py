"""Lightroom keyword lists in and out: the mapping, round trips (also of generated trees), and
a clear error naming the line for everything malformed."""

from __future__ import annotations

import codecs
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cliptagger.core.errors import LabelSetError
from cliptagger.core.storage.text_rules import keyword_problem
from cliptagger.core.tagging.keyword_list import (
    TOP_LEVEL_SET,
    decode_keyword_list,
    dump_keyword_list,
    dump_keyword_paths,
    keyword_list_losses,
    load_label_file,
    parse_keyword_list,
    save_label_file,
)
from cliptagger.core.tagging.labels import Label, LabelSet, Mode, dump_label_sets, parse_label_sets

LIGHTROOM = (
    "Animals\r\n"
    "\tdog\r\n"
    "\t\t{puppy}\r\n"
    "\t\t{hound}\r\n"
    "\tcat\r\n"
    "[Scene]\r\n"
    "\tbeach\r\n"
    "\t[Nature]\r\n"
    "\t\tforest\r\n"
    "Places\r\n"
    "\tPortugal\r\n"
    "\t\tLisbon\r\n"
    "sunset\r\n"
    "[Unused category]\r\n"
)


def _shape(sets: list[LabelSet]) -> list[tuple[str, list[tuple[str, tuple[str, ...]]]]]:
    return [(s.name, [(label.keyword, label.synonyms) for label in s.labels]) for s in sets]


def test_a_lightroom_export_becomes_sets_of_leaf_labels():
    sets = parse_keyword_list(LIGHTROOM)
    assert _shape(sets) == [
        ("Animals", [("Animals|dog", ("puppy", "hound")), ("Animals|cat", ())]),
        ("Scene", [("beach", ()), ("forest", ())]),          # categories are never in a keyword
        ("Places", [("Places|Portugal|Lisbon", ())]),        # only leaves are labels
        (TOP_LEVEL_SET, [("sunset", ())]),
    ]
    assert all(s.mode is Mode.INDEPENDENT and s.max_tags == len(s.labels) for s in sets)


def test_synonyms_join_the_labels_prompt_ensemble_and_survive_json():
    animals = parse_keyword_list(LIGHTROOM)[0]
    prompts = animals.prompts_for(animals.labels[0])
    assert "a photo of a dog." in prompts and "a photo of a puppy." in prompts and "a photo of a hound." in prompts
    assert len(prompts) == 3 * len(animals.template_list)
    assert parse_label_sets(dump_label_sets([animals])) == [animals]


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("utf-8"),
    lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    lambda text: text.encode("utf-16"),                   # with its byte order mark
    lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    lambda text: text.replace("\r\n", "\n").encode("utf-8"),
])
def test_encodings_and_line_ends_lightroom_may_write(tmp_path, encode):
    path = tmp_path / "keywords.txt"
    path.write_bytes(encode(LIGHTROOM.replace("dog", "dög")))
    sets = load_label_file(path)
    assert sets[0].labels[0].keyword == "Animals|dög"
    assert _shape(sets)[1:] == _shape(parse_keyword_list(LIGHTROOM))[1:]


def test_export_then_import_gives_the_same_sets_and_the_same_text():
    sets = parse_keyword_list(LIGHTROOM)
    text = dump_keyword_list(sets)
    assert parse_keyword_list(text) == sets
    assert dump_keyword_list(parse_keyword_list(text)) == text
    assert "[Scene]\n\tbeach\n\tforest\n" in text and "Animals\n\tdog\n\t\t{puppy}\n" in text


def test_sets_made_in_cliptagger_come_back_with_their_keywords():
    scene = LabelSet("Scene", (Label("beach"), Label("dog", "Animals"), Label("night", synonyms=("dusk",))),
                     Mode.INDEPENDENT, 0.5, 3)
    top = LabelSet(TOP_LEVEL_SET, (Label("sunset"), Label("Scene")), Mode.INDEPENDENT, 0.5, 2)
    back = parse_keyword_list(dump_keyword_list([scene, top]))
    assert _shape(back) == _shape([scene]) + [(TOP_LEVEL_SET + " 2", [("sunset", ()), ("Scene", ())])] \
        or _shape(back) == _shape([scene, top])
    assert [label.keyword for s in back for label in s.labels] == ["beach", "Animals|dog", "night", "sunset", "Scene"]


def test_losses_are_named_and_json_keeps_everything(tmp_path):
    scene = LabelSet("Scene", (Label("beach", prompts=("a beach.",)), Label("sea"), Label("sea|wave")),
                     Mode.EXCLUSIVE, 0.3, 1)
    losses = keyword_list_losses([scene])
    assert any("mode" in loss for loss in losses) and any('"beach"' in loss for loss in losses)
    assert any('"sea"' in loss and "level" in loss for loss in losses)
    assert save_label_file(tmp_path / "sets.txt", [scene]) == losses
    assert save_label_file(tmp_path / "sets.json", [scene]) == []
    assert load_label_file(tmp_path / "sets.json") == [scene]
    assert json.loads((tmp_path / "sets.json").read_text())["format"] == "cliptagger-labels"


def test_names_the_format_cannot_hold_are_refused_before_writing(tmp_path):
    odd = LabelSet("Odd", (Label("[draft]"), Label("ok")), Mode.INDEPENDENT, 0.5, 2)
    with pytest.raises(LabelSetError, match="category or synonym"):
        save_label_file(tmp_path / "odd.txt", [odd])
    assert not (tmp_path / "odd.txt").exists()


def test_accepted_vocabulary_writes_every_level_as_a_keyword():
    text = dump_keyword_paths(["AI|Animals|dog", "AI|beach", "ai|animals|cat", "sunset"])
    assert text == "AI\n\tAnimals\n\t\tdog\n\t\tcat\n\tbeach\nsunset\n"


@pytest.mark.parametrize("text, line, words", [
    ("Animals\n\t\tdog\n", 2, "at most one TAB deeper"),
    ("\tdog\n", 1, "no keyword is above it"),
    ("Animals\n\t[]\n", 2, "empty name"),
    ("Animals\n\t{ }\n", 2, "empty name"),
    ("Animals\n  dog\n", 2, "spaces"),
    ("Animals\n\tdo\x07g\n", 2, "U+0007"),
    ("Animals\n\tdo\x85g\n", 2, "U+0085"),
    ("Animals\n\tdog|cat\n", 2, '"|"'),
    ("{dog}\n", 1, "belongs to no keyword"),
    ("Animals\n\tdog\n\tDOG\n", 3, "twice"),
    ("[Animals]\n\tdog\nAnimals\n\tcat\n", 3, "twice"),
    ("a\n" + "".join("\t" * n + "a\n" for n in range(1, 40)), 33, "levels deep"),
])
def test_malformed_lines_are_named(text, line, words):
    with pytest.raises(LabelSetError) as caught:
        parse_keyword_list(text, "kw.txt")
    assert f"kw.txt, line {line}:" in str(caught.value) and words in str(caught.value)


def test_too_many_keywords_are_refused_at_the_line_that_passes_the_limit(monkeypatch):
    from cliptagger.core.tagging import keyword_list

    monkeypatch.setattr(keyword_list, "MAX_KEYWORDS", 50)
    text = "".join(f"word {n}\n" for n in range(60))
    with pytest.raises(LabelSetError, match=r"kw.txt, line 51: more than 50 keywords"):
        parse_keyword_list(text, "kw.txt")
    assert len(parse_keyword_list(text[: text.index("word 50")])[0].labels) == 50


def test_undecodable_bytes_name_their_line_and_huge_files_are_refused(tmp_path):
    with pytest.raises(LabelSetError, match=r"line 3: not UTF-8"):
        decode_keyword_list(b"a\n\tb\n\t\xff\n", "kw.txt")
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    with pytest.raises(LabelSetError, match="limit"):
        load_label_file(big)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n[Only a category]\n")
    with pytest.raises(LabelSetError, match="no keywords"):
        load_label_file(empty)


# ----------------------------------------------------------------------------- generated trees

_letters = st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zl", "Zp"), blacklist_characters="|[]{}\t\n\r")
_names = st.text(_letters, min_size=1, max_size=8).map(str.strip).filter(
    lambda name: bool(name) and keyword_problem(name) is None)


@st.composite
def _trees(draw, depth: int = 0) -> list[tuple[str, bool, list[str], list]]:
    """Siblings: (name, category?, synonyms, children); names unique among siblings."""
    names = draw(st.lists(_names, min_size=1, max_size=4, unique_by=str.casefold))
    siblings = []
    for name in names:
        children = draw(_trees(depth + 1)) if depth < 3 and draw(st.booleans()) else []
        category = bool(children) and draw(st.booleans())
        synonyms = [] if category else draw(st.lists(_names, max_size=2, unique_by=str.casefold))
        siblings.append((name, category, synonyms, children))
    return siblings


def _text(tree, depth: int = 0) -> str:
    out = ""
    for name, category, synonyms, children in tree:
        out += "\t" * depth + (f"[{name}]" if category else name) + "\n"
        out += "".join("\t" * (depth + 1) + "{" + s + "}\n" for s in synonyms)
        out += _text(children, depth + 1)
    return out


def _leaf_keywords(tree, path=()) -> set[str]:
    found: set[str] = set()
    for name, category, _, children in tree:
        if children:
            found |= _leaf_keywords(children, path if category else (*path, name))
        elif not category:
            found.add("|".join((*path, name)).casefold())
    return found


def _in_keyword_order(sets):
    return [s.with_changes(labels=tuple(sorted(s.labels, key=lambda label: label.keyword))) for s in sets]


@settings(max_examples=150, deadline=None)
@given(_trees())
@example([("0", True, [], [("0", False, [], [])]),  # found by hypothesis: "1|00|0" and "1|0" swap places
          ("1", False, [], [("1", True, [], [("000", False, [], [])]),
                            ("000", True, [], [("1", False, [], []), ("000", False, [], []), ("0000", False, [], []),
                                               ("00", False, [], [("00", False, [], [])])]),
                            ("0", False, [], []), ("00", False, [], [("0", False, [], [])])])])
def test_generated_keyword_trees_round_trip(tree):
    text = _text(tree)
    try:
        sets = parse_keyword_list(text)
    except LabelSetError as err:  # the one refusal a valid tree can meet: only empty categories
        assert "holds no keywords" in str(err) and not _leaf_keywords(tree)
        return
    assert {label.keyword.casefold() for s in sets for label in s.labels} == _leaf_keywords(tree)
    exported = dump_keyword_list(sets)
    back = parse_keyword_list(exported)
    if not keyword_list_losses(sets):  # the same sets and labels; a tree may list labels in another order
        assert _in_keyword_order(back) == _in_keyword_order(sets)  # ("A|b" and "A|b|c" meet under one "b")
    else:  # categories folded "A" and "A|b" into one set: named as a loss, and stable from there
        assert all("also a level above" in loss for loss in keyword_list_losses(sets))
        assert parse_keyword_list(dump_keyword_list(back)) == back
    assert dump_keyword_list(parse_keyword_list(dump_keyword_list(back))) == dump_keyword_list(back)
