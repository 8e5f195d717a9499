"""Sidecar writing and reading against hostile input: control characters in keywords,
photos gone before the write, FIFOs, devices and huge sparse files where a sidecar should be."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cliptagger.core.metadata.sidecars import existing_keywords, sidecar_path, write_sidecars
from cliptagger.core.metadata.xmp import fold, keywords_in_sidecar
from cliptagger.core.storage.fileio import NotARegularFile, read_bounded
from cliptagger.core.storage.text_rules import keyword_form, keyword_problem, shown
from tests.xmp_readers import ExiftoolBatch, exiv2_arrays

BLOCK_S = 10.0


def photo(folder: Path, name: str = "p.jpg") -> Path:
    from PIL import Image

    path = folder / name
    Image.new("RGB", (8, 8), "red").save(path)
    return path


def within(seconds: float, action):
    """Run ``action`` on a thread; fail (instead of hanging the suite) if it blocks."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = action()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"blocked for more than {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_a_keyword_with_a_control_character_is_left_out_and_named(tmp_path):
    image = photo(tmp_path)
    report = write_sidecars({image: ["good", "bad\x01word"]})
    sidecar = sidecar_path(image)
    assert keywords_in_sidecar(sidecar.read_bytes()) == ["good"]
    assert any("bad\\x01word" in w and "U+0001" in w for w in report.warnings)
    if shutil.which("exiv2"):  # digiKam's and darktable's reader takes the file
        out = subprocess.run(["exiv2", "-px", str(sidecar)], capture_output=True, text=True)
        assert out.returncode == 0 and "good" in out.stdout


@pytest.fixture(scope="module")
def exiftool():
    batch = ExiftoolBatch()
    yield batch
    batch.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keyword=st.text(st.characters(codec=None, exclude_categories=()), min_size=1, max_size=12))
def test_whatever_a_keyword_holds_the_sidecar_stays_readable(tmp_path_factory, exiftool, keyword):
    """Generated keywords from every Unicode category (controls, surrogates, separators): each
    is either written and read back exactly, by us, exiftool and exiv2, or refused with its
    characters shown escaped."""
    folder = tmp_path_factory.mktemp("kw")
    image = photo(folder)
    report = write_sidecars({image: [keyword]})
    problem = keyword_problem(keyword)
    sidecar = sidecar_path(image)
    read_back = keywords_in_sidecar(sidecar.read_bytes()) if sidecar.exists() else []  # parses, whatever it holds
    event("refused" if problem else "written")
    if problem:
        assert read_back == [] and any(shown(keyword) in w for w in report.warnings)
        assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in shown(keyword))  # safe to print
        return
    written = keyword_form(keyword)  # white space and separators at the ends do not count
    assert report.failed == [] and written in read_back
    [record] = exiftool.json([sidecar])
    hierarchical = record.get("XMP-lr:HierarchicalSubject", [])
    values = hierarchical if isinstance(hierarchical, list) else [hierarchical]
    # exiftool's JSON gives "0" as 0 and "FALSE" as false: compare as text, booleans in any case
    assert fold(written) in [fold(str(v)) for v in values] and (written in map(str, values)
                                                                 or any(isinstance(v, bool) for v in values))
    rows = exiv2_arrays(sidecar)  # digiKam's and darktable's reader
    assert "Xmp.lr.hierarchicalSubject" in rows and written in rows["Xmp.lr.hierarchicalSubject"][2]


def test_a_photo_gone_before_the_write_gets_no_orphan_sidecar(tmp_path):
    kept, gone = photo(tmp_path, "kept.jpg"), photo(tmp_path, "gone.jpg")
    gone.rename(tmp_path / "renamed.jpg")
    report = write_sidecars({kept: ["dog"], gone: ["cat"]})
    assert sidecar_path(kept).exists() and not sidecar_path(gone).exists()
    assert report.images_saved == [kept]
    assert [(p, "no longer there" in why) for p, why in report.failed] == [(gone, True)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_sidecar_neither_hangs_reading_nor_writing(tmp_path):
    image = photo(tmp_path)
    os.mkfifo(sidecar_path(image))
    keywords, problems = within(BLOCK_S, lambda: existing_keywords(image))
    assert keywords == [] and "not a regular file" in problems[0]
    report = within(BLOCK_S, lambda: write_sidecars({image: ["dog"]}))
    assert report.written == [] and "not a regular file" in report.failed[0][1]


def test_a_sidecar_linked_to_a_device_or_huge_is_not_read(tmp_path):
    image = photo(tmp_path)
    sidecar = sidecar_path(image)
    sidecar.symlink_to("/dev/zero")
    keywords, problems = within(BLOCK_S, lambda: existing_keywords(image))
    assert keywords == [] and problems
    with pytest.raises(NotARegularFile):
        read_bounded(sidecar, 1024)
    sidecar.unlink()
    with open(sidecar, "wb") as sparse:  # 12 GB, none of it on disk: must not be read to find out
        sparse.truncate(12 * 2**30)
    keywords, problems = within(BLOCK_S, lambda: existing_keywords(image))
    assert keywords == [] and "limit" in problems[0]
    report = within(BLOCK_S, lambda: write_sidecars({image: ["dog"]}))
    assert report.written == [] and "larger than any real XMP sidecar" in report.failed[0][1]
    assert sidecar.stat().st_size == 12 * 2**30
