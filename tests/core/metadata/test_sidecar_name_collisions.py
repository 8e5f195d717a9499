"""Photos whose names collide in the sidecar naming rules never write into each other's sidecar:
double extensions (``a.jpg`` and ``a.jpg.png``), case-only differences (``a.jpg`` and ``a.JPG`` on a
case-sensitive disk), while a RAW+JPEG pair still shares its Adobe-style sidecar as designed."""

from __future__ import annotations

import os

import pytest

from cliptagger.core.metadata.sidecars import SidecarStyle, existing_sidecars, sidecar_path, write_sidecars
from cliptagger.core.metadata.undo import undo_last_batch
from cliptagger.core.metadata.xmp import keywords_in_sidecar
from tests import helpers


def case_sensitive(folder) -> bool:
    (folder / "probe").write_text("")
    sensitive = not (folder / "PROBE").exists()
    (folder / "probe").unlink()
    return sensitive


@pytest.mark.parametrize("style", list(SidecarStyle))
def test_a_double_extension_photo_never_takes_the_other_photos_sidecar(tmp_path, style):
    plain, double = helpers.photo(tmp_path / "a.jpg"), helpers.photo(tmp_path / "a.jpg.png")
    write_sidecars({plain: ["beach"]})            # a.jpg.xmp: a.jpg's own
    before = (tmp_path / "a.jpg.xmp").read_bytes()
    assert existing_sidecars(double) == []
    report = write_sidecars({double: ["forest"]}, style)
    assert report.written == [tmp_path / "a.jpg.png.xmp"] and not report.failed
    assert (tmp_path / "a.jpg.xmp").read_bytes() == before  # untouched: still only a.jpg's tags
    assert keywords_in_sidecar(report.written[0].read_bytes()) == ["forest"]


def test_both_at_once_get_a_sidecar_each_and_no_shared_warning(tmp_path):
    plain, double = helpers.photo(tmp_path / "a.jpg"), helpers.photo(tmp_path / "a.jpg.png")
    report = write_sidecars({plain: ["beach"], double: ["forest"]}, SidecarStyle.ADOBE)
    assert sorted(p.name for p in report.written) == ["a.jpg.png.xmp", "a.xmp"] or \
        sorted(p.name for p in report.written) == ["a.jpg.png.xmp", "a.jpg.xmp"]
    assert not any("share" in w for w in report.warnings)
    assert {tuple(keywords_in_sidecar(p.read_bytes())) for p in report.written} == {("beach",), ("forest",)}


def test_photos_differing_only_in_case_keep_their_own_sidecars(tmp_path):
    if not case_sensitive(tmp_path):
        pytest.skip("this file system ignores letter case: the two names are one file")
    lower, upper = helpers.photo(tmp_path / "a.jpg"), helpers.photo(tmp_path / "a.JPG")
    write_sidecars({lower: ["beach"]})
    before = (tmp_path / "a.jpg.xmp").read_bytes()
    assert existing_sidecars(upper) == []
    report = write_sidecars({upper: ["forest"]})
    assert report.written == [tmp_path / "a.JPG.xmp"]
    assert (tmp_path / "a.jpg.xmp").read_bytes() == before
    assert undo_last_batch().removed == [tmp_path / "a.JPG.xmp"] and (tmp_path / "a.jpg.xmp").read_bytes() == before


def test_a_sidecar_in_other_case_is_still_found_when_it_is_the_only_candidate(tmp_path):
    photo = helpers.photo(tmp_path / "IMG_1.JPG")
    (tmp_path / "img_1.jpg.xmp").write_bytes(b"")
    assert sidecar_path(photo) == tmp_path / "img_1.jpg.xmp"


def test_a_raw_and_jpeg_pair_still_share_their_adobe_sidecar(tmp_path):
    raw, jpeg = tmp_path / "IMG_2.CR2", helpers.photo(tmp_path / "IMG_2.jpg")
    raw.write_bytes(b"raw")
    (tmp_path / "IMG_2.xmp").write_bytes(b"")
    assert sidecar_path(jpeg, SidecarStyle.ADOBE) == sidecar_path(raw, SidecarStyle.ADOBE) == tmp_path / "IMG_2.xmp"


def test_a_name_near_the_file_system_limit_still_gets_a_sidecar_or_a_clear_failure(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    photo = helpers.photo(tmp_path / ("x" * (limit - len(".jpg")) + ".jpg"))
    report = write_sidecars({photo: ["beach"]}, SidecarStyle.EXT)  # NAME.jpg.xmp is 4 over the limit
    assert report.written == [] and len(report.failed) == 1 and "name" in report.failed[0][1].lower()
    adobe = write_sidecars({photo: ["beach"]}, SidecarStyle.ADOBE)  # NAME.xmp fits, and its temp file must too
    assert adobe.written == [photo.with_suffix(".xmp")] and not adobe.failed
