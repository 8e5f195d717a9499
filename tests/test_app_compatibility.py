"""Each photo app sees every keyword: the user's (planted with exiftool where that app reads
them) and every tag cliptagger wrote for it, read the app's way (``tests/app_readers.py``).

One case per app and kind of file, from the targets table. Apps that read these photos only
from inside the file get the keywords written into the photo (``targets.embedded_writer``);
those cases are skipped only where ExifTool is missing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cliptagger.core.metadata.embedded import EmbedOptions
from cliptagger.core.metadata.sidecars import write_sidecars
from cliptagger.core.metadata.targets import (
    TARGETS,
    Destination,
    embedded_writer,
    sidecar_style,
    target,
    where_to_write,
)
from tests import helpers
from tests.app_readers import READERS, adobe_sidecar, ext_sidecar
from tests.xmp_readers import require

USER = ["People|Ana", "Holiday"]           # the user's own, from before cliptagger
FIRST = ["Shapes|star", "red"]             # what cliptagger's first write accepted
SECOND = ["Shapes|circle", "red"]          # a later write: star was taken back

#: Where each app keeps the user's keywords before cliptagger comes: (file, exiftool assignments).
PLANTED: dict[str, tuple[str, list[str]]] = {
    "lightroom": ("adobe", ["-XMP-lr:HierarchicalSubject=People|Ana", "-XMP-lr:HierarchicalSubject=Holiday",
                            "-XMP-dc:Subject=Ana", "-XMP-dc:Subject=People", "-XMP-dc:Subject=Holiday"]),
    "captureone": ("adobe", ["-XMP-lr:HierarchicalSubject=People|Ana", "-XMP-dc:Subject=Ana",
                             "-XMP-dc:Subject=Holiday"]),
    "darktable": ("ext", ["-XMP-lr:HierarchicalSubject=People|Ana", "-XMP-lr:HierarchicalSubject=Holiday",
                          "-XMP-dc:Subject=Ana", "-XMP-dc:Subject=Holiday"]),
    "digikam-sidecars": ("ext", ["-XMP-digiKam:TagsList=People/Ana", "-XMP-digiKam:TagsList=Holiday"]),
    "immich": ("ext", ["-XMP-digiKam:TagsList=People/Ana", "-XMP-digiKam:TagsList=Holiday"]),
    "photoprism": ("ext", ["-XMP-dc:Subject=Ana", "-XMP-dc:Subject=Holiday"]),
}
EMBEDDED_USER = ["-IPTC:Keywords=Ana", "-IPTC:Keywords=Holiday", "-XMP-dc:Subject=Ana", "-XMP-dc:Subject=Holiday",
                 "-XMP-lr:HierarchicalSubject=People|Ana", "-XMP-lr:HierarchicalSubject=Holiday",
                 "-XPKeywords=Ana;Holiday"]


def _cases() -> list:
    cases = []
    for app in TARGETS:
        if app.key not in READERS:
            continue  # custom: no app to read like
        for name in ("IMG_1.jpg", "IMG_2.CR2"):
            where = app.destination(Path(name))
            marks = []
            if where is Destination.EMBEDDED and embedded_writer() is None:
                marks.append(pytest.mark.skip(reason="no ExifTool: no embedded writer"))
            if where is None:
                continue
            cases.append(pytest.param(app.key, name, marks=marks, id=f"{app.key}-{Path(name).suffix[1:]}"))
    return cases


def _exiftool(path: Path, assignments: list[str]) -> None:
    subprocess.run([require("exiftool"), "-q", "-overwrite_original", "-charset", "iptc=UTF8",
                    "-codedcharacterset=utf8", *assignments, str(path)], check=True, timeout=60, capture_output=True)


def _photo(folder: Path, name: str) -> Path:
    if Path(name).suffix.lower() == ".cr2":  # cliptagger never reads it here; only its sidecar matters
        photo = folder / name
        photo.write_bytes(b"II*\x00not a real raw file")
        return photo
    return helpers.photo(folder / name)


def _write(key: str, photo: Path, keywords: list[str]) -> None:
    app = target(key)
    plan = where_to_write(app, [photo])
    writer = embedded_writer()
    if plan.embedded:
        assert writer is not None
        report = writer({photo: keywords}, EmbedOptions(description=f"test {key}"))
    else:
        report = write_sidecars({photo: keywords}, plan.style, description=f"test {key}")
    assert not report.failed, report.failed


@pytest.mark.parametrize("key, name", _cases())
def test_the_app_sees_the_users_keywords_and_every_accepted_tag(tmp_path, key, name):
    photo = _photo(tmp_path, name)
    file, assignments = PLANTED.get(key, ("embedded", EMBEDDED_USER))
    if target(key).destination(photo) is Destination.EMBEDDED:  # e.g. Lightroom: JPEG keywords live inside
        file, assignments = "embedded", EMBEDDED_USER
    planted = {"adobe": adobe_sidecar(photo), "ext": ext_sidecar(photo), "embedded": photo}[file]
    _exiftool(planted, assignments)
    read = READERS[key]
    assert all(read(photo).sees(k) for k in USER), "the planted keywords are where this app reads them"

    _write(key, photo, FIRST)
    view = read(photo)
    assert [k for k in USER + FIRST if not view.sees(k)] == [], view
    _write(key, photo, SECOND)
    view = read(photo)
    assert [k for k in USER + SECOND if not view.sees(k)] == [] and not view.sees("Shapes|star"), view


#: Apps that read a sidecar over the photo's own metadata: a new sidecar hides the keywords
#: embedded in the photo unless it starts with them.
SIDECAR_OVER_EMBEDDED = ["captureone", "darktable", "digikam-sidecars", "immich"]


@pytest.mark.parametrize("key", SIDECAR_OVER_EMBEDDED)
def test_keywords_embedded_in_the_photo_stay_visible_after_a_new_sidecar(tmp_path, key):
    photo = _photo(tmp_path, "IMG_1.jpg")
    _exiftool(photo, EMBEDDED_USER)
    assert all(READERS[key](photo).sees(k) for k in USER)
    _write(key, photo, FIRST)
    view = READERS[key](photo)
    assert [k for k in USER + FIRST if not view.sees(k)] == [], view


def test_photoprism_merges_sidecar_and_embedded_keywords(tmp_path):
    photo = _photo(tmp_path, "IMG_1.jpg")
    _exiftool(photo, EMBEDDED_USER)
    _write("photoprism", photo, FIRST)
    view = READERS["photoprism"](photo)
    assert [k for k in USER + FIRST if not view.sees(k)] == []


@pytest.mark.parametrize("key", [app.key for app in TARGETS if any(
    Destination.SIDECAR_EXT in w or Destination.SIDECAR_ADOBE in w for w in app.reads.values())])
def test_an_app_reads_one_sidecar_name_for_every_kind_so_one_write_is_one_batch(key):
    app = target(key)
    first = {d for where in app.reads.values() for d in where[:1] if d is not Destination.EMBEDDED}
    styles = {Destination.SIDECAR_EXT: "ext", Destination.SIDECAR_ADOBE: "adobe"}
    assert len(first) <= 1 and all(sidecar_style(app).value == styles[d] for d in first)
