"""XMP sidecars: real readers agree, nothing foreign is lost, bad input is refused untouched."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from cliptagger.core.metadata import undo
from cliptagger.core.metadata.sidecars import (
    SidecarStyle,
    existing_keywords,
    existing_sidecars,
    sidecar_path,
    write_sidecars,
)
from cliptagger.core.storage import fileio
from tests import helpers
from tests.xmp_readers import (
    exiftool_keywords,
    exiv2_arrays,
    foreign_properties,
    require,
)

DATA = Path(__file__).parent / "data" / "xmp"
KEYWORDS = ["Animals|dog", "beach", "AC/DC", "Café, au lait", "Places|Nice|Old Town", "naïve|日本"]


def image(folder: Path, name: str = "IMG_1.jpg") -> Path:
    return helpers.photo(folder / name)


@pytest.mark.parametrize("style", list(SidecarStyle))
def test_exiftool_and_exiv2_read_exactly_our_keywords(tmp_path, style):
    photo = image(tmp_path)
    report = write_sidecars({photo: KEYWORDS}, style)
    expected_name = "IMG_1.jpg.xmp" if style is SidecarStyle.EXT else "IMG_1.xmp"
    assert report.written == [tmp_path / expected_name] and not report.failed
    sidecar = tmp_path / expected_name
    assert exiftool_keywords(sidecar) == {
        "XMP-dc:Subject": ["dog", "beach", "AC/DC", "Café, au lait", "Old Town", "日本"],
        "XMP-digiKam:TagsList": ["Animals/dog", "beach", "AC/DC", "Café, au lait", "Places/Nice/Old Town", "naïve/日本"],
        "XMP-lr:HierarchicalSubject": KEYWORDS,
    }
    rows = exiv2_arrays(sidecar)
    assert rows["Xmp.dc.subject"][:2] == ("XmpBag", 6)
    assert rows["Xmp.lr.hierarchicalSubject"] == ("XmpBag", 6, ", ".join(KEYWORDS))
    assert rows["Xmp.digiKam.TagsList"][:2] == ("XmpSeq", 6)
    assert "Places/Nice/Old Town" in rows["Xmp.digiKam.TagsList"][2]


def exiftool_written_sidecar(folder: Path) -> Path:
    """A sidecar written by exiftool itself, with many namespaces and a language alternative."""
    target = folder / "exiftool-made.xmp"
    subprocess.run([
        require("exiftool"), "-q", "-o", str(target),
        "-XMP-dc:Title-x-default=Harbour", "-XMP-dc:Title-de=Hafen", "-XMP-dc:Creator=Jo",
        "-XMP-photoshop:City=Porto", "-XMP-photoshop:Headline=Boats",
        "-XMP-crs:Exposure2012=+0.50", "-XMP-crs:WhiteBalance=Custom",
        "-XMP-xmpMM:DocumentID=uuid:1234", "-XMP-xmpMM:HistoryAction=saved",
        "-XMP-xmpMM:HistoryWhen=2024:01:02 03:04:05", "-XMP-iptcCore:Location=Ribeira",
        "-XMP-iptcCore:CreatorWorkEmail=jo@example.com", "-XMP-xmp:Rating=5",
        "-XMP-dc:Subject=boats", "-XMP-lr:HierarchicalSubject=Things|boats",
    ], check=True, timeout=60)
    return target


@pytest.mark.parametrize("fixture", ["lightroom.xmp", "digikam.xmp", "darktable.xmp", "exiftool"])
def test_merge_preserves_every_foreign_property(tmp_path, fixture):
    photo = image(tmp_path, "IMG_2.jpg")
    source = exiftool_written_sidecar(tmp_path) if fixture == "exiftool" else DATA / fixture
    sidecar = tmp_path / "IMG_2.jpg.xmp"
    shutil.copyfile(source, sidecar)
    original = sidecar.read_bytes()
    before_foreign = foreign_properties(sidecar)
    before_keywords = exiftool_keywords(sidecar)

    report = write_sidecars({photo: ["Animals|dog", "tram", "beach"]})
    assert report.written == [sidecar], report.failed

    assert foreign_properties(sidecar) == before_foreign
    after = exiftool_keywords(sidecar)
    for tag, values in before_keywords.items():  # the user's keywords are all still there
        assert all(v in after[tag] for v in values), (tag, values, after[tag])
    assert "Animals|dog" in after["XMP-lr:HierarchicalSubject"]
    # no case-variant duplicates: 'tram' was already there in the Lightroom file
    assert [v.casefold() for v in after["XMP-dc:Subject"]].count("tram") == 1
    text = sidecar.read_bytes()
    # the wrapper and comments survive byte for byte
    assert text.split(b"<x:xmpmeta")[0] == original.split(b"<x:xmpmeta")[0]
    assert text.rsplit(b"</x:xmpmeta>", 1)[1] == original.rsplit(b"</x:xmpmeta>", 1)[1]
    if fixture == "lightroom.xmp":
        assert b"<!-- edited in Lightroom Classic; keep this comment -->" in text
        assert 'acme:Project="Spring &amp; Summer &lt;2024&gt;"'.encode() in text  # attribute form kept


def test_rerun_replaces_only_our_own_tags(tmp_path):
    photo = image(tmp_path)
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    shutil.copyfile(DATA / "lightroom.xmp", sidecar)
    write_sidecars({photo: ["Places|beach", "Animals|dog", "tram"]})  # 'tram' is the user's already
    write_sidecars({photo: ["Places|forest"]})
    keywords = exiftool_keywords(sidecar)
    hierarchical = keywords["XMP-lr:HierarchicalSubject"]
    assert "Places|forest" in hierarchical
    assert "Places|beach" not in hierarchical and "Animals|dog" not in hierarchical
    assert "beach" not in keywords["XMP-dc:Subject"] and "dog" not in keywords["XMP-dc:Subject"]
    for users in ["Places|Portugal|Lisbon", "tram", "AC/DC", "red, yellow", "Places|Portugal|São Bento"]:
        assert users in hierarchical  # typed by the user: never removed
    assert "tram" in keywords["XMP-dc:Subject"]


def test_same_result_twice_is_byte_identical_and_not_rewritten(tmp_path):
    photo = image(tmp_path)
    write_sidecars({photo: KEYWORDS})
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    first = sidecar.read_bytes()
    mtime = sidecar.stat().st_mtime_ns
    report = write_sidecars({photo: list(reversed(KEYWORDS))})
    assert report.unchanged == [sidecar] and report.written == []
    assert sidecar.read_bytes() == first and sidecar.stat().st_mtime_ns == mtime


def test_sidecar_lookup_any_letter_case(tmp_path):
    raw = tmp_path / "IMG_7.CR2"
    raw.write_bytes(b"raw")
    (tmp_path / "img_7.XMP").write_bytes((DATA / "digikam.xmp").read_bytes())
    assert existing_sidecars(raw) == [tmp_path / "img_7.XMP"]
    assert sidecar_path(raw, SidecarStyle.EXT) == tmp_path / "img_7.XMP"  # existing one wins
    (tmp_path / "IMG_7.cr2.Xmp").write_bytes((DATA / "digikam.xmp").read_bytes())
    assert sidecar_path(raw, SidecarStyle.EXT) == tmp_path / "IMG_7.cr2.Xmp"
    assert sidecar_path(raw, SidecarStyle.ADOBE) == tmp_path / "img_7.XMP"


def test_raw_and_jpeg_pair_share_adobe_sidecar_without_losing_tags(tmp_path):
    jpeg = image(tmp_path, "IMG_3.JPG")
    raw = tmp_path / "IMG_3.CR2"
    raw.write_bytes(b"raw data")
    report = write_sidecars({jpeg: ["beach"], raw: ["Animals|dog"]}, SidecarStyle.ADOBE)
    assert report.written == [tmp_path / "IMG_3.xmp"]
    assert any("share the sidecar IMG_3.xmp" in w for w in report.warnings)
    assert exiftool_keywords(tmp_path / "IMG_3.xmp")["XMP-lr:HierarchicalSubject"] == ["beach", "Animals|dog"]
    # a later run over the JPEG alone must not erase the RAW's automatic tag
    report = write_sidecars({jpeg: ["forest"]}, SidecarStyle.ADOBE)
    assert any("not in this batch" in w for w in report.warnings)
    assert set(exiftool_keywords(tmp_path / "IMG_3.xmp")["XMP-lr:HierarchicalSubject"]) == {"beach", "Animals|dog", "forest"}


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&lol9;</dc:title>
</rdf:Description></rdf:RDF></x:xmpmeta>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd"><!ENTITY remote SYSTEM "http://203.0.113.9/x">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&secret;&remote;</dc:title>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", "not well-formed"),
        (b"<html><body>not metadata</body></html>", "not an XMP packet"),
        (b"<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>"
         b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description>\xff\xfe bad"
         b"</rdf:Description></rdf:RDF></x:xmpmeta>", "not valid UTF-8"),
        (BILLION_LAUGHS, "DTD"),
        (XXE, "DTD"),
        (b"\x00" * 10, "not well-formed"),
    ],
    ids=["malformed", "not-xmp", "not-utf8", "billion-laughs", "xxe", "binary"],
)
def test_bad_sidecars_are_refused_and_left_untouched(tmp_path, content, reason):
    photo = image(tmp_path)
    other = image(tmp_path, "IMG_ok.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    sidecar.write_bytes(content)
    started = time.monotonic()
    report = write_sidecars({photo: ["beach"], other: ["forest"]})
    assert time.monotonic() - started < 5
    assert [path for path, _ in report.failed] == [sidecar]
    assert reason in report.failed[0][1] and "untouched" in report.failed[0][1]
    assert sidecar.read_bytes() == content
    assert report.written == [tmp_path / "IMG_ok.jpg.xmp"]  # the run went on


def test_huge_sidecar_is_refused_quickly(tmp_path):
    photo = image(tmp_path)
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    with open(sidecar, "wb") as handle:
        handle.write(b"<x:xmpmeta>" + b" " * (50 * 1024 * 1024))
    size = sidecar.stat().st_size
    report = write_sidecars({photo: ["beach"]})
    assert "larger than any real XMP sidecar" in report.failed[0][1]
    assert sidecar.stat().st_size == size


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_file_and_folder_give_clear_errors_as_user(tmp_path):
    _check_read_only(tmp_path)


def test_read_only_file_and_folder_give_clear_errors(tmp_path):
    """Checked through the permission bits, so it holds for root too (root could write)."""
    _check_read_only(tmp_path)


def _check_read_only(tmp_path):
    locked_file = image(tmp_path, "locked.jpg")
    sidecar = tmp_path / "locked.jpg.xmp"
    shutil.copyfile(DATA / "digikam.xmp", sidecar)
    sidecar.chmod(0o444)
    folder = tmp_path / "ro"
    folder.mkdir()
    in_locked_folder = image(folder, "a.jpg")
    fine = image(tmp_path, "fine.jpg")
    folder.chmod(0o555)
    try:
        report = write_sidecars({locked_file: ["beach"], in_locked_folder: ["beach"], fine: ["beach"]})
    finally:
        folder.chmod(0o755)
    reasons = dict(report.failed)
    assert "read-only" in reasons[sidecar]
    assert "read-only" in reasons[folder / "a.jpg.xmp"]
    assert report.written == [tmp_path / "fine.jpg.xmp"]
    assert sidecar.read_bytes() == (DATA / "digikam.xmp").read_bytes()


def test_crash_mid_write_leaves_old_file_intact(tmp_path, monkeypatch):
    photo = image(tmp_path)
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    shutil.copyfile(DATA / "lightroom.xmp", sidecar)
    sidecar.chmod(0o640)
    original = sidecar.read_bytes()

    def exploding_replace(src, dst):
        raise OSError(28, "No space left on device")

    # (a context, not monkeypatch.undo(): that would also undo the private journal folder)
    with monkeypatch.context() as patch:
        patch.setattr(fileio.os, "replace", exploding_replace)
        patch.setattr(fileio, "_renameat2_missing", True)  # the portable path renames with os.replace
        report = write_sidecars({photo: ["beach"]})
    assert "No space left on device" in report.failed[0][1]
    assert sidecar.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IMG_1.jpg", "IMG_1.jpg.xmp"]  # no temp left
    write_sidecars({photo: ["beach"]})
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o640  # mode preserved on replace


def test_kill_during_write_never_leaves_partial_file(tmp_path):
    """A separate process killed while writing in a loop: the file is always old or new."""
    import signal
    import sys

    photo = image(tmp_path)
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    shutil.copyfile(DATA / "lightroom.xmp", sidecar)
    script = (
        "import sys; from pathlib import Path; from cliptagger.core.metadata.sidecars import write_sidecars\n"
        f"p = Path({str(photo)!r}); i = 0\n"
        "while True:\n"
        "    write_sidecars({p: [f'k{i % 7}']}); i += 1\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    time.sleep(3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    from cliptagger.core.metadata.xmp import keywords_in_sidecar

    keywords = keywords_in_sidecar(sidecar.read_bytes())  # parses: complete, not partial
    assert "tram" in keywords
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 1  # at most the one temp file the kill interrupted; never the sidecar itself


def test_undo_restores_exact_bytes_and_removes_created_files(tmp_path):
    edited, created = image(tmp_path, "edited.jpg"), image(tmp_path, "created.jpg")
    sidecar = tmp_path / "edited.jpg.xmp"
    shutil.copyfile(DATA / "lightroom.xmp", sidecar)
    original = sidecar.read_bytes()
    report = write_sidecars({edited: ["beach"], created: ["forest"]})
    assert len(report.written) == 2 and report.journal is not None
    result = undo.undo_last_batch()
    assert sidecar.read_bytes() == original
    assert not (tmp_path / "created.jpg.xmp").exists()
    assert result.restored == [sidecar] and result.removed == [tmp_path / "created.jpg.xmp"]
    assert undo.undo_last_batch().batch is None  # nothing left to undo


def test_undo_never_clobbers_later_edits(tmp_path):
    photo = image(tmp_path)
    write_sidecars({photo: ["beach"]})
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    sidecar.write_bytes(sidecar.read_bytes().replace(b"beach", b"BEACH-edited"))
    report = undo.undo_last_batch()
    assert report.skipped and "changed since" in report.skipped[0][1]
    assert b"BEACH-edited" in sidecar.read_bytes()
    forced = undo.undo_last_batch(force=True)
    # --force takes out only cliptagger's own keywords: the user's edit stays (issue 9). The
    # edit renamed cliptagger's only keyword, so nothing of cliptagger's is left, and it says so.
    assert forced.nothing_left == [sidecar] and forced.merged == [] and b"BEACH-edited" in sidecar.read_bytes()


def test_existing_keywords_union_of_sidecars_and_embedded(tmp_path):
    from PIL import Image

    photo = tmp_path / "IMG_5.jpg"
    packet = (DATA / "digikam.xmp").read_bytes()
    iptc = _iptc_keywords(["Embedded IPTC", "Grandma"])
    Image.new("RGB", (16, 16)).save(photo, xmp=packet)
    _insert_app13(photo, iptc)
    shutil.copyfile(DATA / "darktable.xmp", tmp_path / "IMG_5.jpg.xmp")
    keywords, problems = existing_keywords(photo)
    assert not problems
    for expected in ["Seasons|Autumn", "darktable|format|nef", "Family|Grandma", "Holidays|2023", "Embedded IPTC"]:
        assert expected in keywords
    assert [k.casefold() for k in keywords].count("grandma") == 0  # the leaf is covered by Family|Grandma


def _iptc_keywords(words):
    data = b""
    for word in words:
        raw = word.encode("utf-8")
        data += b"\x1c\x02\x19" + len(raw).to_bytes(2, "big") + raw
    block = b"8BIM" + (0x0404).to_bytes(2, "big") + b"\x00\x00" + len(data).to_bytes(4, "big") + data
    if len(data) % 2:
        block += b"\x00"
    return b"Photoshop 3.0\x00" + block


def _insert_app13(path: Path, payload: bytes) -> None:
    data = path.read_bytes()
    segment = b"\xff\xed" + (len(payload) + 2).to_bytes(2, "big") + payload
    path.write_bytes(data[:2] + segment + data[2:])
