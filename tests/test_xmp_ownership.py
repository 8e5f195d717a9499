"""Issue 9, the XMP half: one test per way a user's keywords or metadata were lost or hidden.

Every result is read back through exiftool and exiv2, never only through our own reader.
"""

from __future__ import annotations

import csv
import io
import shlex
import subprocess
from pathlib import Path

import pytest

from cliptagger.core.metadata.export import (
    exiftool_csv_text,
    pick_list_separator,
    write_exiftool_csv,
)
from cliptagger.core.metadata.sidecars import write_sidecars
from tests import helpers
from tests.xmp_readers import (
    exiftool_json,
    exiftool_keywords,
    exiv2_values,
    foreign_properties,
    require,
    split_exiv2,
)

RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
NAMESPACES = ('xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" '
              'xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
              'xmlns:exif="http://ns.adobe.com/exif/1.0/"')


def packet(body: str, before: str = "", after: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + before
        + f'<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF {RDF}>\n' + body + "\n </rdf:RDF>\n</x:xmpmeta>\n"
        + after + '<?xpacket end="w"?>'
    ).encode("utf-8")


def bag(tag: str, values, kind: str = "Bag") -> str:
    items = "".join(f"<rdf:li>{v}</rdf:li>" for v in values)
    return f"<{tag}><rdf:{kind}>{items}</rdf:{kind}></{tag}>"


def exiv2_list(path: Path, key: str) -> list[str]:
    """An exiv2 array as a list (test keywords contain no ', ')."""
    row = exiv2_values(path).get(key)
    return [] if row is None else row[2].split(", ")


def both_readers(path: Path) -> dict[str, dict[str, list[str]]]:
    """The three keyword properties as exiftool and as exiv2 read them."""
    exiftool = exiftool_keywords(path)
    return {
        "exiftool": {"dc": exiftool["XMP-dc:Subject"], "lr": exiftool["XMP-lr:HierarchicalSubject"],
                     "digiKam": exiftool["XMP-digiKam:TagsList"]},
        "exiv2": {"dc": exiv2_list(path, "Xmp.dc.subject"), "lr": exiv2_list(path, "Xmp.lr.hierarchicalSubject"),
                  "digiKam": exiv2_list(path, "Xmp.digiKam.TagsList")},
    }


def exiv2_foreign(path: Path) -> dict:
    return split_exiv2(exiv2_values(path))[1]


# ------------------------------------------------------------------ 1. a typed keyword is deleted


@pytest.mark.parametrize("where", ["dc", "dc-upper", "lr", "digiKam"])
def test_users_flat_keyword_survives_when_our_leaf_of_the_same_name_goes(tmp_path, where):
    """The user typed `square`; a run adds Shapes|square (leaf `square`); a later run with
    other labels removes what it added, and never the user's `square`."""
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    typed = "SQUARE" if where == "dc-upper" else "square"
    tag = {"dc": "dc:subject", "dc-upper": "dc:subject", "lr": "lr:hierarchicalSubject",
           "digiKam": "digiKam:TagsList"}[where]
    sidecar.write_bytes(packet(f'  <rdf:Description rdf:about="" {NAMESPACES}>'
                               + bag(tag, [typed, "holiday"], "Seq" if where == "digiKam" else "Bag")
                               + "</rdf:Description>"))
    assert write_sidecars({photo: ["Shapes|square"]}).written == [sidecar]
    first = both_readers(sidecar)
    for reader in first.values():
        assert "Shapes|square" in reader["lr"] and "Shapes/square" in reader["digiKam"]
    assert write_sidecars({photo: ["Colors|red"]}).written == [sidecar]
    second = both_readers(sidecar)
    prop = "dc" if where.startswith("dc") else where
    for name, reader in second.items():
        assert typed in reader[prop], (name, reader)           # the user's entry is still there
        assert "holiday" in reader[prop]
        assert "Shapes|square" not in reader["lr"], (name, reader)  # ours went
        assert "Shapes/square" not in reader["digiKam"]
        assert "Colors|red" in reader["lr"] and "red" in reader["dc"] and "Colors/red" in reader["digiKam"]


def test_an_older_ownership_record_never_removes_a_leaf_the_user_may_own(tmp_path):
    """Sidecars written before the per-property record list keywords only (AutoKeywords)."""
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    sidecar.write_bytes(packet(
        f'  <rdf:Description rdf:about="" {NAMESPACES} xmlns:cliptagger="http://ns.cliptagger.app/1.0/">'
        + bag("dc:subject", ["square", "tree"]) + bag("lr:hierarchicalSubject", ["Shapes|square", "tree"])
        + bag("digiKam:TagsList", ["Shapes/square", "tree"], "Seq")
        + bag("cliptagger:AutoKeywords", ["Shapes|square", "tree"]) + "</rdf:Description>"))
    assert write_sidecars({photo: ["Colors|red"]}).written == [sidecar]
    for name, reader in both_readers(sidecar).items():
        assert "Shapes|square" not in reader["lr"] and "Shapes/square" not in reader["digiKam"], name
        assert "square" in reader["dc"], name  # it may have been the user's: kept
        assert "tree" not in reader["lr"] and "tree" not in reader["dc"], name  # flat: surely ours
    assert "AutoKeywords" not in sidecar.read_text()


# ------------------------------------------------------------------ 2. exiftool's layout refused


def test_exiftool_layout_with_dc_on_a_sibling_description_is_merged(tmp_path):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    subprocess.run([require("exiftool"), "-q", "-o", str(sidecar), "-XMP-crs:Exposure2012=+0.50",
                    "-XMP-crs:WhiteBalance=Custom", "-XMP-dc:Creator=Jo", "-XMP-xmp:Rating=3",
                    "-XMP-photoshop:City=Porto"], check=True, timeout=60)
    assert b"dc:subject" not in sidecar.read_bytes() and sidecar.read_bytes().count(b"<rdf:Description") >= 3
    before, before_exiv2 = foreign_properties(sidecar), exiv2_foreign(sidecar)
    report = write_sidecars({photo: ["Animals|dog", "beach"]})
    assert report.written == [sidecar] and not report.failed, report.failed
    assert foreign_properties(sidecar) == before and exiv2_foreign(sidecar) == before_exiv2
    for name, reader in both_readers(sidecar).items():
        assert reader == {"dc": ["dog", "beach"], "lr": ["Animals|dog", "beach"],
                          "digiKam": ["Animals/dog", "beach"]}, name


# ------------------------------------------------------------------ 3. a comment before the packet


@pytest.mark.parametrize("before", [
    "<!-- a <x:xmpmeta> note -->\n",
    '<?note <x:xmpmeta xmlns:x="adobe:ns:meta/"> ?>\n<!-- </x:xmpmeta> -->\n',
])
def test_comment_or_pi_before_the_packet_root_does_not_wipe_the_sidecar(tmp_path, before):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    body = (f'  <rdf:Description rdf:about="" {NAMESPACES} xmp:Rating="4" exif:GPSLatitude="38,42.5N" '
            'exif:GPSLongitude="9,8.3W"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour</rdf:li>'
            "</rdf:Alt></dc:title>" + bag("dc:subject", ["boats"]) + "</rdf:Description>")
    original = packet(body, before=before, after="<!-- </x:xmpmeta> after -->\n")
    sidecar.write_bytes(original)
    before_props, before_exiv2 = foreign_properties(sidecar), exiv2_foreign(sidecar)
    assert before_props["XMP-dc:Title"] == "Harbour" and before_props["XMP-xmp:Rating"] == 4
    report = write_sidecars({photo: ["Animals|dog"]})
    assert report.written == [sidecar]
    assert foreign_properties(sidecar) == before_props
    assert exiv2_foreign(sidecar) == before_exiv2
    data = sidecar.read_bytes()
    assert data.startswith(original[:original.index(b"<x:xmpmeta xmlns")])  # the prologue, byte for byte
    for name, reader in both_readers(sidecar).items():
        assert reader["dc"] == ["boats", "dog"] and reader["lr"] == ["boats", "Animals|dog"], name


# ------------------------------------------------------------------ 4. digiKam stops seeing keywords


@pytest.mark.parametrize("has", ["dc", "lr", "dc+lr"])
def test_a_keyword_property_we_create_starts_with_the_users_keywords(tmp_path, has):
    """digiKam reads TagsList first and ignores the rest once it exists: it must hold all."""
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    parts = []
    if "dc" in has:
        parts.append(bag("dc:subject", ["Lisbon", "Portugal", "tram", "Grandma"]))
    if "lr" in has:
        parts.append(bag("lr:hierarchicalSubject", ["Places|Portugal|Lisbon", "tram", "Family|Grandma"]))
    sidecar.write_bytes(packet(f'  <rdf:Description rdf:about="" {NAMESPACES}>' + "".join(parts)
                               + "</rdf:Description>"))
    assert write_sidecars({photo: ["Animals|dog"]}).written == [sidecar]
    for name, reader in both_readers(sidecar).items():
        if has == "dc":  # flat keywords only: carried as top-level entries
            assert reader["digiKam"] == ["Lisbon", "Portugal", "tram", "Grandma", "Animals/dog"], name
            assert reader["lr"] == ["Lisbon", "Portugal", "tram", "Grandma", "Animals|dog"], name
        else:  # the hierarchy is carried; dc leaves naming one of its levels are covered by it
            assert reader["digiKam"] == ["Places/Portugal/Lisbon", "Family/Grandma", "tram", "Animals/dog"], name
            assert set(reader["dc"]) >= {"Lisbon", "tram", "Grandma", "dog"}, name
    # a later run removes only ours, never what was carried
    write_sidecars({photo: ["Animals|cat"]})
    for name, reader in both_readers(sidecar).items():
        assert "Animals/dog" not in reader["digiKam"] and "tram" in reader["digiKam"], name
        assert "tram" in reader["lr"], name


# ------------------------------------------------------------------ 5. the exiftool CSV replaced keywords


def test_printed_exiftool_command_adds_keywords_keeps_backups_and_names_real_paths(tmp_path):
    folder = tmp_path / "it's a \"library\" $HOME"
    folder.mkdir()
    first = helpers.photo(folder / "Strand; Süd.jpg")
    second = helpers.photo(folder / "-b.jpg")
    subprocess.run([require("exiftool"), "-q", "-overwrite_original", "-XMP-dc:Subject=holiday",
                    "-XMP-dc:Subject=dog", "-XMP-lr:HierarchicalSubject=Trips|2024", "-XMP-lr:HierarchicalSubject=Animals|dog",
                    str(first)], check=True, timeout=60)
    out = tmp_path / "tags $1.csv"
    command = write_exiftool_csv(out, {first: ["Animals|dog", "beach"], second: ["Animals|cat"]})
    assert "-csv+=" in command and "-overwrite_original" not in command and "FILES_OR_FOLDERS" not in command
    assert shlex.split(command)[-2:] == [str(first), str(second)]
    subprocess.run(["bash", "-c", command], check=True, timeout=60, capture_output=True, cwd=tmp_path)
    keywords = exiftool_keywords(first)
    assert keywords["XMP-dc:Subject"] == ["holiday", "dog", "beach"]  # added, and no duplicate 'dog'
    assert keywords["XMP-lr:HierarchicalSubject"] == ["Trips|2024", "Animals|dog", "beach"]
    assert keywords["XMP-digiKam:TagsList"] == ["Animals/dog", "beach"]
    assert exiftool_keywords(second)["XMP-lr:HierarchicalSubject"] == ["Animals|cat"]
    assert (folder / "Strand; Süd.jpg_original").exists() and (folder / "-b.jpg_original").exists()


def test_the_command_works_from_any_folder_when_the_paths_were_given_relative(tmp_path, monkeypatch):
    (tmp_path / "photos").mkdir()
    (tmp_path / "elsewhere").mkdir()
    helpers.photo(tmp_path / "photos" / "a.jpg")
    monkeypatch.chdir(tmp_path)
    command = write_exiftool_csv(Path("tags.csv"), {Path("photos/a.jpg"): ["beach"]})
    assert str(tmp_path / "tags.csv") in command and str(tmp_path / "photos" / "a.jpg") in command
    subprocess.run(["bash", "-c", command], check=True, timeout=60, capture_output=True, cwd=tmp_path / "elsewhere")
    assert exiftool_keywords(tmp_path / "photos" / "a.jpg")["XMP-lr:HierarchicalSubject"] == ["beach"]


def test_keywords_containing_every_separator_are_exported_without_error(tmp_path):
    photo = helpers.photo(tmp_path / "a.jpg")
    nasty = ["a, b", "c; d", "e ~ f", "g ~~ h", "x ~"]
    separator = pick_list_separator(nasty)
    assert all(separator not in k for k in nasty)
    out = tmp_path / "tags.csv"
    command = write_exiftool_csv(out, {photo: nasty})
    subprocess.run(["bash", "-c", command], check=True, timeout=60, capture_output=True)
    assert exiftool_keywords(photo)["XMP-lr:HierarchicalSubject"] == nasty
    # and the XMP writes of the same keywords go on
    report = write_sidecars({photo: nasty})
    assert report.written == [tmp_path / "a.jpg.xmp"]
    assert exiftool_keywords(tmp_path / "a.jpg.xmp")["XMP-dc:Subject"] == nasty


def test_exiftool_csv_text_leaves_out_what_the_photo_already_has():
    text, separator = exiftool_csv_text({Path("/p/a.jpg"): ["Animals|dog", "beach"]},
                                        {Path("/p/a.jpg"): {"XMP-dc:Subject": {"dog"}}})
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row == ["/p/a.jpg", "beach", f"Animals|dog{separator}beach", f"Animals/dog{separator}beach"]


# ------------------------------------------------------------------ 9. &#xD; in values we do not own


def test_carriage_returns_in_values_we_do_not_own_survive(tmp_path):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    body = (f'  <rdf:Description rdf:about="" {NAMESPACES} xmlns:acme="http://ns.example.com/acme/"\n'
            '   acme:Note="one&#xD;two">\n   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">'
            "line one&#xD;&#xA;line two&#13;</rdf:li></rdf:Alt></dc:description>\n"
            "   <acme:Caption>caf&#233; &amp; bar&#xD;</acme:Caption>\n" + bag("dc:subject", ["boats"])
            + "\n  </rdf:Description>")
    sidecar.write_bytes(packet(body))
    assert write_sidecars({photo: ["Animals|dog"]}).written == [sidecar]
    data = exiftool_json(sidecar)
    assert data["XMP-dc:Description"] == "line one\r\nline two\r"
    assert data["XMP-acme:Caption"] == "café & bar\r"
    assert data["XMP-acme:Note"] == "one\rtwo"
    rows = exiv2_values(sidecar)
    assert rows["Xmp.dc.description"][2] == 'lang="x-default" line one\r\nline two\r'
    assert rows["Xmp.acme.Caption"][2] == "café & bar\r"
    text = sidecar.read_bytes()
    for raw in (b"line one&#xD;&#xA;line two&#13;", b"caf&#233; &amp; bar&#xD;", b'acme:Note="one&#xD;two"'):
        assert raw in text  # byte for byte, as the user's tool wrote them
    assert exiftool_keywords(sidecar)["XMP-lr:HierarchicalSubject"] == ["boats", "Animals|dog"]


def test_without_our_keywords_keeps_everything_of_the_user(tmp_path):
    from cliptagger.core.metadata.xmp import without_our_keywords

    sidecar = tmp_path / "a.xmp"
    original = packet(f'  <rdf:Description rdf:about="" {NAMESPACES} xmp:Rating="2">'
                      + bag("dc:subject", ["square", "Lisbon"]) + bag("lr:hierarchicalSubject", ["Places|Lisbon"])
                      + "</rdf:Description>")
    from cliptagger.core.metadata.xmp import updated_sidecar

    ours, _ = updated_sidecar(original, ["Shapes|square", "beach"])
    sidecar.write_bytes(without_our_keywords(ours))
    readers = both_readers(sidecar)
    for name, reader in readers.items():
        assert reader["dc"] == ["square", "Lisbon"] and reader["lr"] == ["Places|Lisbon"], name
        assert reader["digiKam"] == ["Places/Lisbon", "square"], name  # carried: the user's
    assert without_our_keywords(sidecar.read_bytes()) is None
