"""Values in a label file that used to end in a traceback or be accepted silently: each is
refused with a message that says what is wrong and what is allowed."""

from __future__ import annotations

import pytest

from cliptagger.core.errors import LabelSetError
from cliptagger.core.tagging.labels import load_label_sets, parse_label_sets

TWO = '"labels": ["a", "b"]'


@pytest.mark.parametrize("text, message", [
    ('{"name": "A", ' + TWO + ', "max_tags": 1e999}', "too large"),
    ('{"name": "A", ' + TWO + ', "max_tags": ' + "9" * 5000 + "}", "5000-digit"),
    ('{"name": "A", ' + TWO + ', "threshold": NaN}', "not a number JSON allows"),
    ('{"name": "A", "labels": ["a\\ud800", "b"]}', r"not valid text \(U\+D800\)"),
    ('{"name": "A\\ud800", ' + TWO + "}", r"U\+D800"),
    ('{"name": "A", "labels": ["a\\u0001", "b"]}', r"control character \(U\+0001\)"),
    ('{"name": "A", "labels": ["a", "b"], "templates": ["a photo of {}\\u001b[2J"]}', r"U\+001B"),
    ("[]", "no label sets"),
    ('{"format": "cliptagger-labels", "label_sets": []}', "no label sets"),
    ('{"name": "A", ' + TWO + ', "baseline_prompts": "abc"}', "'baseline_prompts' must be a list of texts"),
    ('{"name": "A", ' + TWO + ', "max_tags": "3"}', "'max_tags' must be a whole number"),
    ('{"name": "A", ' + TWO + ', "max_tags": 2.5}', "'max_tags' must be a whole number"),
    ('{"name": "A", ' + TWO + ', "threshold": true}', "'threshold' must be a number"),
    ('{"name": "A", "labels": [{"name": "a", "prompts": "a {}"}, "b"]}', "must be a list of texts"),
    ('{"name": "A", "labels": ["|", "b"]}', "it is empty"),
    ('{"name": "A", "labels": [{"name": "a||b"}, "c"]}', "empty level"),
    ('{"name": "A", "labels": [{"name": "dog", "parent": "Animals||"}, "b"]}', None),  # trailing | stripped: fine
])
def test_a_bad_value_is_refused_with_a_message(text, message):
    if message is None:
        assert parse_label_sets(text)[0].labels[0].keyword == "Animals|dog"
        return
    with pytest.raises(LabelSetError, match=message):
        parse_label_sets(text)


def test_a_label_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path):
    import os

    fifo = tmp_path / "labels.json"
    os.mkfifo(fifo)
    with pytest.raises(LabelSetError, match="Cannot read label file"):
        load_label_sets(fifo)
