"""A new sidecar starts with the keywords already inside the photo, as the user's own: apps that
read the sidecar instead of the photo (Capture One, darktable, Immich, digiKam reading sidecars)
keep seeing them, and no later write or undo of cliptagger's ever takes them out."""

from __future__ import annotations

import subprocess

from cliptagger.core.metadata import undo
from cliptagger.core.metadata.sidecars import write_sidecars
from cliptagger.core.metadata.xmp import read_keywords
from cliptagger.core.metadata.xmp_document import parse_xmp
from tests import helpers
from tests.xmp_readers import exiftool_keywords


def embed(photo, *assignments: str) -> None:
    subprocess.run(["exiftool", "-q", "-overwrite_original", *assignments, str(photo)], check=True)


def test_the_photos_keywords_are_in_the_new_sidecar_and_stay_the_users(tmp_path):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    embed(photo, "-XMP-lr:HierarchicalSubject=People|Ana", "-XMP-dc:Subject=Ana", "-IPTC:Keywords=Holiday")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    write_sidecars({photo: ["Shapes|star"]})
    seen = exiftool_keywords(sidecar)
    assert {"People|Ana", "Holiday", "Shapes|star"} <= set(seen["XMP-lr:HierarchicalSubject"])
    assert {"Ana", "Holiday", "star"} <= set(seen["XMP-dc:Subject"])
    state = read_keywords(parse_xmp(sidecar.read_bytes()))
    ours = {k.casefold() for k in state.auto}  # per property: the path, and the leaf in dc:subject
    assert "shapes|star" in ours and not {"holiday", "ana", "people|ana"} & ours

    write_sidecars({photo: ["Shapes|circle"]})  # star taken back; the photo's keywords stay
    seen = set(exiftool_keywords(sidecar)["XMP-lr:HierarchicalSubject"])
    assert {"People|Ana", "Holiday", "Shapes|circle"} <= seen and "Shapes|star" not in seen


def test_undo_of_the_first_write_removes_the_new_sidecar_and_leaves_the_photo_alone(tmp_path):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    embed(photo, "-IPTC:Keywords=Holiday")
    before = photo.read_bytes()
    write_sidecars({photo: ["red"]})
    assert (tmp_path / "IMG_1.jpg.xmp").exists()
    undo.undo_last_batch()
    assert not (tmp_path / "IMG_1.jpg.xmp").exists() and photo.read_bytes() == before


def test_an_existing_sidecar_is_not_seeded_and_keywords_a_sidecar_cannot_hold_stay_in_the_photo(tmp_path):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    embed(photo, "-IPTC:Keywords=Holiday", "-IPTC:Keywords=bad\x07bell")
    write_sidecars({photo: ["red"]})
    seen = exiftool_keywords(tmp_path / "IMG_1.jpg.xmp")["XMP-dc:Subject"]
    assert "Holiday" in seen and not any("bell" in k for k in seen)

    other = helpers.photo(tmp_path / "IMG_2.jpg")
    (tmp_path / "IMG_2.jpg.xmp").write_bytes((tmp_path / "IMG_1.jpg.xmp").read_bytes().replace(b"Holiday", b"Mine"))
    embed(other, "-IPTC:Keywords=Embedded")
    write_sidecars({other: ["blue"]})
    seen = exiftool_keywords(tmp_path / "IMG_2.jpg.xmp")["XMP-dc:Subject"]
    assert "Mine" in seen and "Embedded" not in seen  # the user's sidecar is theirs as it is
