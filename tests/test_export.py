"""CSV exports: quoting, UTF-8, and exiftool applying our CSV to real images."""

from __future__ import annotations

import csv
import io
import shlex
import subprocess
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cliptagger.core.metadata.export import (
    exiftool_csv_text,
    pick_list_separator,
    write_exiftool_csv,
)
from tests import helpers
from tests.xmp_readers import exiftool_keywords, require


def test_exiftool_applies_our_csv_and_reads_keywords_back(tmp_path):
    folder = tmp_path / "library, \"2024\""  # a comma and quotes in the path
    folder.mkdir()
    first = helpers.photo(folder / "Strand, Süd.jpg")
    second = helpers.photo(folder / "b.jpg")
    assignments = {first: ["Places|beach", "Café, au lait", "naïve"], second: ["Animals|dog"]}
    out = tmp_path / "tags.csv"
    command = write_exiftool_csv(out, assignments)
    separator = pick_list_separator([k for ks in assignments.values() for k in ks])
    assert separator != ", "  # a keyword contains ', ' so another separator is chosen
    assert shlex.split(command)[:5] == ["exiftool", f"-csv+={out}", "-sep", separator, str(first)]
    require("exiftool")
    subprocess.run(["bash", "-c", command], check=True, timeout=60, capture_output=True)
    assert exiftool_keywords(first) == {
        "XMP-dc:Subject": ["beach", "Café, au lait", "naïve"],
        "XMP-digiKam:TagsList": ["Places/beach", "Café, au lait", "naïve"],
        "XMP-lr:HierarchicalSubject": ["Places|beach", "Café, au lait", "naïve"],
    }
    assert exiftool_keywords(second)["XMP-lr:HierarchicalSubject"] == ["Animals|dog"]


def test_csv_quoting_round_trips():
    path = Path('/photos/with "quotes", commas\nand newline.jpg')
    text, separator = exiftool_csv_text({path: ['say "cheese"', "a|b"]})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == str(path)
    assert rows[1][1].split(separator) == ['say "cheese"', "b"]


def test_nothing_to_apply_gives_no_command(tmp_path):
    """Photos that already embed every keyword: the CSV has no rows, and no command is offered."""
    import shutil
    import subprocess

    photo = helpers.photo(tmp_path / "a.jpg")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject=beach",
                    "-XMP-lr:HierarchicalSubject=beach", "-XMP-digiKam:TagsList=beach", str(photo)], check=True)
    assert write_exiftool_csv(tmp_path / "tags.csv", {photo: ["beach"]}) == ""
    assert (tmp_path / "tags.csv").read_text().count("\n") == 1  # the header alone
    other = shutil.copy(photo, tmp_path / "b.jpg")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP:all=", str(other)], check=True)
    command = write_exiftool_csv(tmp_path / "tags.csv", {photo: ["beach"], Path(other): ["beach"]})
    assert str(other) in command and str(photo) not in command


def test_keywords_exiftool_would_split_on_a_spaced_separator_come_back_whole(tmp_path):
    """exiftool reads a space in -sep as 'any whitespace or none': ', ' split 'com,ma', ' ~ ' split 'a~b'."""
    photo = helpers.photo(tmp_path / "a.jpg")
    keywords = ["com,ma", "a~b", "p;q", "x  y", "semi;", "~"]
    separator = pick_list_separator(keywords)
    assert " " not in separator
    command = write_exiftool_csv(tmp_path / "tags.csv", {photo: keywords})
    require("exiftool")
    subprocess.run(["bash", "-c", command], check=True, timeout=60, capture_output=True)
    assert exiftool_keywords(photo)["XMP-lr:HierarchicalSubject"] == keywords


FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "＝1+1"]


def test_no_scores_csv_cell_is_a_formula_to_a_spreadsheet(tmp_path):
    from cliptagger.core.metadata.export import FORMULA_STARTS, scores_csv_text
    from cliptagger.core.tagging.engine import ImageResult, SetScores
    from cliptagger.core.tagging.labels import Label, LabelSet
    from cliptagger.core.tagging.scoring import Proposal

    # labels cannot hold tabs or returns (control characters): those starts come from file names
    labels = tuple(Label(k) for k in FORMULAS if k[0] not in "\t\r")
    label_set = LabelSet("=cmd|' /C calc'!A0", labels, threshold=0.0)
    result = ImageResult(Path("\t=1+1.jpg"), None,
                         [SetScores(label_set, [1 / len(labels)] * len(labels), [Proposal(lb, 0.1) for lb in labels])])
    text = scores_csv_text([result], [label_set], accepted={result.path: FORMULAS})
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert cells and not [c for c in cells if c.startswith(FORMULA_STARTS)]
    assert any(c.startswith("'=HYPERLINK") for c in cells)  # shown as text, not dropped
    assert any(c.startswith("'\t=1+1.jpg") or c.endswith("\t=1+1.jpg") for c in cells)


LABEL_TEXT = st.builds(str.__add__, st.sampled_from(["", "=", "+", "-", "@", "＝", " =", "|"]),
                       st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn", "Co")), min_size=1, max_size=8))


@settings(max_examples=60, deadline=None)
@given(names=st.lists(LABEL_TEXT, min_size=2, max_size=4, unique_by=str.casefold),
       set_name=LABEL_TEXT, file_name=st.builds(str.__add__, st.sampled_from(["", "=", "\t", "\r", "-"]), st.text()))
def test_no_generated_name_becomes_a_formula_in_the_scores_csv(names, set_name, file_name):
    from cliptagger.core.errors import LabelSetError
    from cliptagger.core.metadata.export import FORMULA_STARTS, scores_csv_text
    from cliptagger.core.tagging.engine import ImageResult, SetScores
    from cliptagger.core.tagging.labels import Label, LabelSet
    from cliptagger.core.tagging.scoring import Proposal

    try:
        labels = tuple(Label(n) for n in names)
        label_set = LabelSet(set_name, labels, threshold=0.0)
    except LabelSetError:
        assume(False)  # names no label set may have (control characters, empty levels...)
    result = ImageResult(Path(file_name.replace("/", "_").replace("\0", "_") or "x"), None,  # relative: may start "="
                         [SetScores(label_set, [1 / len(labels)] * len(labels), [Proposal(lb, 0.1) for lb in labels])])
    text = scores_csv_text([result], [label_set], accepted={result.path: [lb.keyword for lb in labels]})
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert cells and not [c for c in cells if c.startswith(FORMULA_STARTS)]
