"""Keywords written into each format: read back by exiftool, exiv2 and Pillow; the image data
and every metadata block cliptagger does not own unchanged; undo gives back the exact bytes."""

from __future__ import annotations

import os
import time

import pytest

from cliptagger.core.metadata.embedded import EmbedOptions, write_embedded
from cliptagger.core.metadata.embedded_checks import jpeg_scan_data
from cliptagger.core.metadata.journal import list_batches
from cliptagger.core.metadata.sidecars import embedded_keywords
from cliptagger.core.metadata.undo import undo_last_batch
from tests.core.metadata import embedded_photos as photos

pytestmark = [photos.needs_exiftool, photos.needs_exiv2]

BUILDERS = {
    "IMG.jpg": photos.rich_jpeg,
    "IMG.tif": photos.plain_tiff,
    "IMG.dng": photos.tiny_dng,
    "IMG.png": photos.plain_png,
    "IMG.webp": photos.plain_webp,
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_embed_verify_and_undo_to_the_exact_bytes(tmp_path, name):
    photo = BUILDERS[name](tmp_path / name)
    os.chmod(photo, 0o640)
    os.utime(photo, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    original = photo.read_bytes()
    foreign_before = photos.foreign_exiftool(photo)
    exiv2_before = photos.foreign_exiv2(photo)
    pixels_before = photos.pixels(photo)

    report = write_embedded({photo: ["Animals|dog", "beach"]}, EmbedOptions(description="test"))

    assert report.written == [photo], report.failed
    assert sorted(photos.keywords_by_exiftool(photo)) == ["beach", "dog"]
    assert sorted(photos.keywords_by_exiftool(photo, "XMP-lr:HierarchicalSubject")) == ["Animals|dog", "beach"]
    assert sorted(photos.keywords_by_exiftool(photo, "XMP-digiKam:TagsList")) == ["Animals/dog", "beach"]
    assert sorted(photos.keywords_by_exiv2(photo)) == ["beach", "dog"]
    assert photos.foreign_exiftool(photo) == foreign_before
    assert photos.foreign_exiv2(photo) == exiv2_before
    assert photos.pixels(photo) == pixels_before
    assert {k.split("|")[-1] for k in embedded_keywords(photo)} >= {"dog", "beach"}  # Pillow's reading (APP1, tag 700, iTXt, XMP chunk)
    if name.endswith(".jpg"):
        assert jpeg_scan_data(photo.read_bytes()) == jpeg_scan_data(original)
    assert (os.stat(photo).st_mode & 0o777) == 0o640
    assert os.stat(photo).st_mtime_ns == 1_600_000_000_000_000_000  # preserve_photo_mtime (default)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left

    undone = undo_last_batch()
    assert undone.restored == [photo]
    assert photo.read_bytes() == original
    assert os.stat(photo).st_mtime_ns == 1_600_000_000_000_000_000
    assert not list_batches()


def test_iptc_keywords_are_kept_in_step_when_the_file_has_them(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg", iptc_keywords=("mine",))
    long_keyword = "x" * 70
    report = write_embedded({photo: ["dog", "Ünïcode", long_keyword]})
    assert report.written == [photo], report.failed
    assert sorted(photos.keywords_by_exiftool(photo, "IPTC:Keywords")) == ["dog", "mine", "Ünïcode"]
    assert any("64 bytes" in w for w in report.warnings)
    assert long_keyword in photos.keywords_by_exiftool(photo)  # still in XMP
    assert photos.exiftool_tags(photo)["IPTC:CodedCharacterSet"] == "\x1b%G"

    report = write_embedded({photo: ["cat"]})  # a later run: ours replaced, the user's kept
    assert report.written == [photo], report.failed
    assert sorted(photos.keywords_by_exiftool(photo, "IPTC:Keywords")) == ["cat", "mine"]
    assert sorted(photos.keywords_by_exiftool(photo)) == ["cat"]


def test_xpkeywords_are_kept_in_step_when_the_file_has_them(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg", iptc_keywords=())
    photos.exiftool_run("-q", "-overwrite_original", "-XPKeywords=mine;other", str(photo))
    assert write_embedded({photo: ["dog"]}).written == [photo]
    tags = photos.exiftool_tags(photo)
    assert tags["IFD0:XPKeywords"] == "mine;other;dog"
    assert "IPTC:Keywords" not in tags  # the file had none: none added
    assert write_embedded({photo: ["cat"]}).written == [photo]
    assert photos.exiftool_tags(photo)["IFD0:XPKeywords"] == "mine;other;cat"


def test_no_iptc_or_xpkeywords_are_added_to_a_file_without_them(tmp_path):
    photo = photos.plain_png(tmp_path / "IMG.png")
    assert write_embedded({photo: ["dog"]}).written == [photo]
    tags = photos.exiftool_tags(photo)
    assert "IPTC:Keywords" not in tags and "IFD0:XPKeywords" not in tags


def test_users_embedded_keywords_are_never_removed(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg")
    photos.exiftool_run("-q", "-overwrite_original", "-XMP-dc:Subject=holiday", str(photo))
    assert write_embedded({photo: ["dog"]}).written == [photo]
    assert sorted(photos.keywords_by_exiftool(photo)) == ["dog", "holiday"]
    assert write_embedded({photo: []}).written == [photo]  # all of ours rejected now
    assert photos.keywords_by_exiftool(photo) == ["holiday"]


def test_dry_run_changes_nothing(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg")
    before = photo.read_bytes()
    report = write_embedded({photo: ["dog"]}, EmbedOptions(dry_run=True))
    assert report.written == [photo] and report.changes[photo].added == ["dog"]
    assert photo.read_bytes() == before and not list_batches()


def test_raw_files_and_heif_without_the_opt_in_are_refused(tmp_path):
    raw = photos.plain_tiff(tmp_path / "IMG.tif").rename(tmp_path / "IMG.NEF")
    heic = tmp_path / "IMG.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(32))
    report = write_embedded({raw: ["dog"], heic: ["dog"]})
    why = dict(report.failed)
    assert "raw files keep a sidecar" in why[raw] and "opt-in" in why[heic]


def test_keywords_we_embedded_count_as_ours_not_the_users(tmp_path):
    from cliptagger.core.metadata.sidecars import existing_keywords

    photo = photos.rich_jpeg(tmp_path / "IMG.jpg", iptc_keywords=("mine",))
    assert write_embedded({photo: ["Animals|dog"]}).written == [photo]
    ours: set[str] = set()
    keywords, problems = existing_keywords(photo, ours=ours)
    assert not problems and {"animals|dog", "mine"} <= {k.casefold() for k in keywords}
    assert [k for k in keywords if k.casefold() not in ours] == ["mine"]  # what `learn` may learn from


def test_heic_is_written_into_only_with_its_opt_in(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    from PIL import Image

    photo = tmp_path / "IMG.heic"
    Image.effect_mandelbrot((64, 48), (-2.0, -1.2, 1.0, 1.2), 40).convert("RGB").save(photo, quality=80)
    original = photo.read_bytes()
    assert "opt-in" in dict(write_embedded({photo: ["dog"]}).failed)[photo]
    report = write_embedded({photo: ["dog"]}, EmbedOptions(allow_heif=True))
    assert report.written == [photo], report.failed
    assert photos.keywords_by_exiftool(photo) == ["dog"]
    assert undo_last_batch().restored == [photo] and photo.read_bytes() == original


def test_stale_temp_copies_of_a_killed_run_are_removed_later(tmp_path):
    from cliptagger.core.metadata.embedded import remove_stale_embed_temps

    photo = photos.plain_png(tmp_path / "IMG.png")
    stale = tmp_path / ".IMG.png.abcd1234.embed.tmp"
    fresh = tmp_path / ".IMG.png.efgh5678.embed.tmp"
    unrelated = tmp_path / ".IMG.png.notours.tmp"
    for path in (stale, fresh, unrelated):
        path.write_bytes(b"partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    os.utime(unrelated, (time.time() - 7200, time.time() - 7200))
    assert remove_stale_embed_temps(tmp_path) == [stale]
    assert fresh.exists() and unrelated.exists() and photo.exists()
