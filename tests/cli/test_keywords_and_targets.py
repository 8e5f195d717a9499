"""The CLI's keyword lists (--labels FILE.txt, export-keywords, --keyword-list), the root
keyword (written, recorded as ours, taken back when the root changes) and --target."""

from __future__ import annotations

import json

from cliptagger import cli
from cliptagger.core.media.synthetic import Scene
from cliptagger.core.tagging.keyword_list import load_label_file
from cliptagger.core.tagging.labels import default_label_file
from tests import helpers
from tests.xmp_readers import exiftool_keywords

HIER = "XMP-lr:HierarchicalSubject"


def tag(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = cli.main(["tag", *args, "--model", "demo", "--device", "cpu", "--json", "--quiet"])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err


def test_a_keyword_list_is_a_label_file_and_export_keywords_converts_both_ways(tmp_path, capsys):
    listed = tmp_path / "demo.txt"
    assert cli.main(["export-keywords", str(listed), "--model", "demo"]) == 0
    err = capsys.readouterr().err
    assert "note: Set \"Shape\": its mode" in err  # the demo sets are exclusive: said, not hidden
    assert listed.read_text(encoding="utf-8").startswith("[Shape]\n\tShapes\n\t\tcircle\n")
    back = load_label_file(listed)
    demo = load_label_file(default_label_file("demo"))
    assert [[l.keyword for l in s.labels] for s in back] == [[l.keyword for l in s.labels] for s in demo]

    photo = helpers.photo(tmp_path / "a.jpg", Scene("star", "red", "white"))
    code, rows, _ = tag(capsys, str(photo), "--labels", str(listed))
    assert code == 0 and set(rows[0]["scores"]) == {"Shape", "Colour", "Background"}
    assert "Shapes|star" in rows[0]["scores"]["Shape"]

    as_json = tmp_path / "back.json"
    assert cli.main(["export-keywords", str(as_json), "--labels", str(listed)]) == 0
    assert load_label_file(as_json) == back


def test_a_malformed_keyword_list_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("Animals\n\t\tdog\n", encoding="utf-8")
    code, _, err = tag(capsys, str(helpers.photo(tmp_path / "a.jpg")), "--labels", str(bad))
    assert code == 2 and f"{bad}, line 2:" in err and "Traceback" not in err


def test_the_root_keyword_is_written_recorded_as_ours_and_taken_back(tmp_path, capsys):
    photo = helpers.photo(tmp_path / "a.jpg", Scene("star", "red", "white"))
    vocabulary = tmp_path / "vocabulary.txt"
    code, rows, _ = tag(capsys, str(photo), "--write-xmp", "--keyword-root", "AI|CLIP",
                        "--keyword-list", str(vocabulary))
    keywords = rows[0]["keywords"]
    assert code == 0 and keywords and "Shapes|star" in keywords
    written = exiftool_keywords(tmp_path / "a.jpg.xmp")[HIER]
    assert sorted(written) == sorted(f"AI|CLIP|{k}" for k in keywords)
    assert vocabulary.read_text(encoding="utf-8").startswith("AI\n\tCLIP\n")
    # the same photo without the root: the rooted keywords were ours, so they go
    code, _, _ = tag(capsys, str(photo), "--write-xmp")
    assert sorted(exiftool_keywords(tmp_path / "a.jpg.xmp")[HIER]) == sorted(keywords)

    code, _, err = tag(capsys, str(photo), "--write-xmp", "--keyword-root", "AI||x")
    assert code == 2 and "root keyword" in err and "empty level" in err


def test_targets_write_into_the_photo_where_the_app_reads_only_that(tmp_path, capsys):
    photo = helpers.photo(tmp_path / "a.jpg")
    before = photo.read_bytes()
    code, _, err = tag(capsys, str(photo), "--write-xmp", "--target", "lightroom")
    assert code == 0 and not list(tmp_path.glob("*.xmp")) and photo.read_bytes() != before
    assert "Read Metadata from Files" in err
    assert exiftool_keywords(photo)[HIER]  # Lightroom reads JPEG keywords from inside the file


def test_targets_choose_the_sidecar_name_or_refuse_what_needs_embedded_writing(tmp_path, capsys, monkeypatch):
    from cliptagger.core.metadata import exiftool_process

    photo = helpers.photo(tmp_path / "a.jpg")
    code, _, err = tag(capsys, str(photo), "--write-xmp", "--target", "captureone")
    assert code == 0 and (tmp_path / "a.xmp").exists() and not (tmp_path / "a.jpg.xmp").exists()
    assert "Image > Load Metadata" in err

    monkeypatch.setattr(exiftool_process, "exiftool_available", lambda: False)  # no ExifTool on this machine
    other = helpers.photo(tmp_path / "b.jpg")
    code, _, err = tag(capsys, str(other), "--write-xmp", "--target", "lightroom")
    assert code == 2 and "needs ExifTool" in err and "--sidecars-anyway" in err
    assert not (tmp_path / "b.xmp").exists() and not (tmp_path / "b.jpg.xmp").exists()
    code, _, err = tag(capsys, str(other), "--write-xmp", "--target", "lightroom", "--sidecars-anyway")
    assert code == 0 and (tmp_path / "b.xmp").exists() and "does not read" in err

    third = helpers.photo(tmp_path / "c.png")
    assert tag(capsys, str(third), "--write-xmp", "--target", "darktable")[0] == 0
    assert (tmp_path / "c.png.xmp").exists()
