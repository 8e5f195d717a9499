"""Nothing the CLI prints can drive the terminal: file names and keywords holding escape
sequences (clear screen, retitle the window) are printed escaped, on stdout and stderr."""

from __future__ import annotations

import json

from cliptagger import cli
from cliptagger.cli.output import escape_controls
from tests import helpers

CLEAR_AND_RETITLE = "\x1b[2J\x1b]0;pwned\x07"


def test_escape_sequences_in_names_and_keywords_are_printed_escaped(capsys, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    helpers.photo(folder / f"evil{CLEAR_AND_RETITLE}.jpg")
    (folder / f"broken{CLEAR_AND_RETITLE}.jpg").write_bytes(b"not a jpeg")
    code = cli.main(["tag", str(folder), "--model", "demo", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for stream in (captured.out, captured.err):
        assert not any(c in stream for c in "\x1b\x07\x9b"), stream
    assert "evil\\x1b[2J" in captured.out and "broken\\x1b[2J" in captured.err


def test_a_label_file_with_escape_sequences_is_refused_and_the_refusal_printed_escaped(capsys, tmp_path):
    helpers.photo(tmp_path / "one.jpg")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"label_sets": [{"name": "Evil\x9b2J", "mode": "independent",
                                                  "labels": [f"a{CLEAR_AND_RETITLE}b", "plain"]}]}))
    code = cli.main(["tag", str(tmp_path), "--model", "demo", "--device", "cpu", "--labels", str(labels)])
    captured = capsys.readouterr()
    assert code == 2
    assert not any(c in captured.out + captured.err for c in "\x1b\x07\x9b")
    assert "Evil\\x9b2J" in captured.err and "U+009B" in captured.err


def test_escape_controls_keeps_newlines_and_text():
    assert escape_controls("a\nb\tc\x1bd\x7f\x85é😀") == "a\nb\\x09c\\x1bd\\x7f\\x85é😀"


def test_a_file_name_with_a_newline_stays_on_its_own_line(capsys, tmp_path):
    """tag, its sidecar lines, search and undo print one line per photo, whatever its name holds."""
    folder = tmp_path / "photos"
    folder.mkdir()
    helpers.photo(folder / "new\nline.jpg")
    helpers.photo(folder / "plain.jpg")
    assert cli.main(["tag", str(folder), "--model", "demo", "--device", "cpu", "--write-xmp"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 2 and "new\\nline.jpg" in captured.out
    assert not any(line.startswith("line.jpg") for line in (captured.out + captured.err).splitlines())
    assert cli.main(["search", "a red circle", str(folder), "--model", "demo", "--device", "cpu"]) == 0
    assert "new\\nline.jpg" in capsys.readouterr().out
    assert cli.main(["undo"]) == 0
    undone = capsys.readouterr().out
    assert len(undone.strip().splitlines()) == 2 and "new\\nline.jpg" in undone
