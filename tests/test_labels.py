"""Label set files: parsing, validation with clear messages, round trips, templates."""

from __future__ import annotations

import json

import pytest

from cliptagger.core.errors import LabelSetError
from cliptagger.core.tagging.labels import (
    Label,
    LabelSet,
    Mode,
    dump_label_sets,
    load_label_sets,
    parse_label_sets,
    save_label_sets,
)
from cliptagger.core.tagging.templates import IMAGENET_TEMPLATES, PHOTO_TEMPLATES
from tests.conftest import ROOT


def test_bundled_label_files_load():
    for path in sorted((ROOT / "resources/labels").glob("*.json")):
        sets = load_label_sets(path)
        assert sets, path


def test_templates_expand_and_labels_carry_parents():
    [label_set] = parse_label_sets(json.dumps({
        "name": "Pets", "mode": "independent", "templates": ["a photo of a {}.", "a {} picture."],
        "labels": [{"name": "dog", "parent": "Animals"}, {"name": "cat", "prompts": ["a kitten."]}],
    }))
    assert label_set.mode is Mode.INDEPENDENT
    assert label_set.labels[0].keyword == "Animals|dog"
    assert label_set.prompts_for(label_set.labels[0]) == ("a photo of a dog.", "a dog picture.")
    assert label_set.prompts_for(label_set.labels[1]) == ("a kitten.",)
    assert label_set.threshold == 0.5 and label_set.max_tags == 2  # independent defaults


def test_named_template_lists():
    label_set = LabelSet("S", (Label("a"), Label("b")), templates="imagenet80")
    assert len(label_set.prompts_for(label_set.labels[0])) == 80
    assert LabelSet("S", (Label("a"), Label("b"))).template_list == PHOTO_TEMPLATES


def test_imagenet_templates_match_open_clip():
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    assert IMAGENET_TEMPLATES == tuple(t("{}") for t in OPENAI_IMAGENET_TEMPLATES)


def test_round_trip_keeps_everything(tmp_path):
    original = [
        LabelSet("Scene", (Label("beach", "Places"), Label("forest")), threshold=0.4),
        LabelSet("Things", (Label("dog", "Animals", ("a good {}.",)), Label("cat")), mode=Mode.INDEPENDENT,
                 max_tags=3, templates=("a {}.",), baseline_prompts=("a photo.",)),
    ]
    path = tmp_path / "sets.json"
    save_label_sets(path, original)
    assert load_label_sets(path) == original
    assert json.loads(path.read_text())["version"] == 1


@pytest.mark.parametrize(
    "document, message",
    [
        ("{not json", "not valid JSON"),
        ('{"name": "S"}', "missing the 'labels'"),
        ('{"name": "S", "labels": ["a", "A"]}', "twice"),
        ('{"name": "S", "labels": ["a"]}', "fewer than two"),
        ('{"name": "S", "labels": ["a", "b"], "mode": "maybe"}', "exclusive' or 'independent"),
        ('{"name": "S", "labels": ["a", "b"], "threshold": 3}', "threshold"),
        ('{"name": "S", "labels": ["a", "b"], "templates": "klingon"}', "known lists"),
        ('{"format": "cliptagger-labels", "version": 99, "label_sets": []}', "version 99"),
        ('[{"name": "S", "labels": ["a", "b"]}, {"name": "s", "labels": ["c", "d"]}]', "same name"),
    ],
)
def test_malformed_files_give_clear_errors(document, message):
    with pytest.raises(LabelSetError, match=message):
        parse_label_sets(document)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LabelSetError, match="not found"):
        load_label_sets(tmp_path / "nope.json")


def test_dump_is_utf8_text():
    text = dump_label_sets([LabelSet("Café", (Label("crème brûlée"), Label("naïve")))])
    assert "crème brûlée" in text
