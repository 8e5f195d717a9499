"""The CLI end to end: the demo model on held-out pictures, bad files, exit codes."""

from __future__ import annotations

import json
import shutil

import pytest

from cliptagger import cli
from cliptagger.core.media.synthetic import Scene
from tests import helpers


def run_cli(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = cli.main(["tag", *args, "--model", "demo", "--device", "cpu", "--json", "--quiet"])
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, rows, captured.err


def top_label(scores: dict[str, float]) -> str:
    return max(scores, key=scores.get).split("|")[-1]


def test_demo_model_tags_held_out_pictures(capsys, held_out_pictures):
    folder = held_out_pictures[0][0].parent
    truth = {str(path): scene for path, scene in held_out_pictures}
    code, rows, _ = run_cli(capsys, str(folder))
    assert code == 0
    assert len(rows) == len(held_out_pictures)
    hits = {"Shape": 0, "Colour": 0, "Background": 0}
    proposed_right = 0
    for row in rows:
        scene = truth[row["path"]]
        expected = {"Shape": scene.shape, "Colour": scene.colour, "Background": scene.background}
        for set_name in hits:
            hits[set_name] += top_label(row["scores"][set_name]) == expected[set_name]
        proposed_right += f"Shapes|{scene.shape}" in row["keywords"]
    accuracy = {name: count / len(rows) for name, count in hits.items()}
    assert min(accuracy.values()) >= 0.9, accuracy
    assert proposed_right / len(rows) >= 0.85


def test_good_files_tagged_bad_files_reported(tmp_path, capsys):
    good = [
        helpers.photo(tmp_path / "plain.jpg", Scene("circle", "red", "white")),
        helpers.rgba_png(tmp_path / "alpha.png"),
        helpers.exif_rotated_jpeg(tmp_path / "rotated.jpg")[0],
        helpers.cmyk_jpeg(tmp_path / "cmyk.jpg"),
        helpers.sixteen_bit_png(tmp_path / "deep.png")[0],
    ]
    bad = {
        helpers.truncated_jpeg(tmp_path / "truncated.jpg"): "truncated",
        tmp_path / "empty.jpg": "empty file",
        tmp_path / "notes.png": "not a recognised image",
    }
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.png").write_text("shopping list: film, batteries")
    code, rows, err = run_cli(capsys, str(tmp_path))
    assert code == 0
    tagged = {row["path"] for row in rows if row["status"] == "tagged"}
    assert tagged == {str(p.resolve()) for p in good}
    errors = {row["path"]: row["reason"] for row in rows if row["status"] == "error"}
    assert set(errors) == {str(p.resolve()) for p in bad}
    for path, reason in bad.items():
        assert reason in errors[str(path.resolve())]
        assert str(path.resolve()) in err  # the summary names every skipped file
    assert f"tagged {len(good)} of {len(good) + len(bad)} images, skipped {len(bad)}" in err


def test_nothing_tagged_exits_non_zero(tmp_path, capsys):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    code, _, err = run_cli(capsys, str(tmp_path))
    assert code == 1
    assert "tagged 0 of 1" in err


def test_no_images_found_exits_non_zero(tmp_path, capsys):
    code, _, err = run_cli(capsys, str(tmp_path))
    assert code == 1 and "no supported images" in err


def test_bad_label_file_is_a_clear_setup_error(tmp_path, capsys):
    helpers.photo(tmp_path / "a.jpg")
    labels = tmp_path / "labels.json"
    labels.write_text('{"name": "S", "labels": ["only-one"]}')
    code, _, err = run_cli(capsys, str(tmp_path), "--labels", str(labels))
    assert code == 2 and "fewer than two" in err and "Traceback" not in err


def test_scores_csv_written(tmp_path, capsys):
    helpers.photo(tmp_path / "a.jpg", Scene("star", "yellow", "dark"))
    out = tmp_path / "scores.csv"
    code, rows, _ = run_cli(capsys, str(tmp_path / "a.jpg"), "--csv", str(out))
    assert code == 0
    import csv

    header, row = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert header[:4] == ["path", "proposed_tags", "accepted_tags", "Shape: Shapes|circle"]
    assert row[0] == str((tmp_path / "a.jpg").resolve())
    # the CLI accepts every proposal, and says so in the accepted column
    assert row[2] == row[1] == "; ".join(rows[0]["keywords"]) and "Shapes|star" in row[2]


def test_console_script_runs_as_a_process(tmp_path):
    """The installed entry point, as a user types it."""
    import subprocess
    import sys

    helpers.photo(tmp_path / "a.jpg")
    exe = shutil.which("cliptagger", path=str(__import__("pathlib").Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "cliptagger.cli"]
    done = subprocess.run(command + ["tag", str(tmp_path), "--model", "demo", "--device", "cpu"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "a.jpg:" in done.stdout


def test_cli_writes_xmp_and_undo_restores(tmp_path, capsys):
    from tests.xmp_readers import exiftool_keywords

    photo = helpers.photo(tmp_path / "a.jpg", Scene("star", "red", "white"))
    code, rows, err = run_cli(capsys, str(photo), "--write-xmp")
    assert code == 0
    sidecar = tmp_path / "a.jpg.xmp"
    assert set(exiftool_keywords(sidecar)["XMP-lr:HierarchicalSubject"]) == set(rows[0]["keywords"])
    assert "undo with `cliptagger undo`" in err
    assert cli.main(["undo", "--list"]) == 0
    [listed] = capsys.readouterr().out.splitlines()  # which batch: number, when, how many, where, what
    assert listed.startswith("000000000001  20") and f"1 sidecar(s) in {tmp_path}" in listed
    assert f"(cliptagger tag {photo})" in listed
    assert cli.main(["undo"]) == 0
    assert not sidecar.exists()


def test_cli_dry_run_changes_nothing(tmp_path, capsys):
    photo = helpers.photo(tmp_path / "a.jpg")
    code, rows, err = run_cli(capsys, str(photo), "--write-xmp", "--dry-run", "--csv", str(tmp_path / "x.csv"))
    assert code == 0 and "would write" in err
    [line] = [l for l in err.splitlines() if l.startswith("cliptagger: would write ")]  # which keywords, not just which file
    assert rows[0]["keywords"] and all(f"+{k}" in line for k in rows[0]["keywords"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


def test_cli_adobe_style_and_exiftool_csv(tmp_path, capsys):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    out = tmp_path / "tags.csv"
    code, _, err = run_cli(capsys, str(photo), "--write-xmp", "--sidecar-style", "adobe",
                           "--csv", str(out), "--csv-format", "exiftool")
    assert code == 0
    assert (tmp_path / "IMG_1.xmp").exists()
    assert out.read_text().startswith("SourceFile,XMP-dc:Subject")
    command = err.split("apply it with:")[1].splitlines()[1]
    assert "-csv+=" in command and "-overwrite_original" not in command and str(photo) in command


def test_cache_command_prunes(tmp_path, capsys):
    photo = helpers.photo(tmp_path / "a.jpg")
    run_cli(capsys, str(photo))
    assert cli.main(["cache"]) == 0 and "1 embeddings" in capsys.readouterr().out
    photo.unlink()
    assert cli.main(["cache", "prune"]) == 0 and "pruned 1 stale" in capsys.readouterr().out


def test_a_file_name_that_is_not_utf8_prints_as_its_bytes_under_a_strict_utf8_locale(tmp_path):
    """A desktop's UTF-8 locale makes Python's stdout strict: such a name used to end the run."""
    import os
    import subprocess
    import sys

    name = os.fsdecode(b"bad\xff-name.jpg")
    helpers.photo(tmp_path / name)
    exe = shutil.which("cliptagger", path=str(__import__("pathlib").Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "cliptagger.cli"]
    done = subprocess.run(command + ["tag", str(tmp_path), "--model", "demo", "--device", "cpu", "--write-xmp"],
                          capture_output=True, timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    assert done.returncode == 0, done.stderr
    assert b"bad\xff-name.jpg:" in done.stdout                     # the original bytes, on both streams
    assert b"bad\xff-name.jpg.xmp" in done.stderr and b"\\udcff" not in done.stderr


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_cli_writes_keywords_into_the_photo_and_undo_restores(tmp_path, capsys):
    from tests.xmp_readers import exiftool_keywords

    photo = helpers.photo(tmp_path / "a.jpg", Scene("star", "red", "white"))
    original = photo.read_bytes()
    code, rows, err = run_cli(capsys, str(photo), "--xmp-target", "embedded")
    assert code == 0, err
    assert not (tmp_path / "a.jpg.xmp").exists()
    assert set(exiftool_keywords(photo)["XMP-lr:HierarchicalSubject"]) == set(rows[0]["keywords"])
    assert "photos: wrote 1" in err
    assert cli.main(["undo", "--list"]) == 0
    assert f"1 photo(s) in {tmp_path}" in capsys.readouterr().out
    assert cli.main(["undo"]) == 0
    assert photo.read_bytes() == original


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_cli_both_writes_the_sidecar_and_the_photo(tmp_path, capsys):
    from tests.xmp_readers import exiftool_keywords

    photo = helpers.photo(tmp_path / "a.jpg", Scene("star", "red", "white"))
    code, rows, err = run_cli(capsys, str(photo), "--xmp-target", "both")
    assert code == 0, err
    expected = set(rows[0]["keywords"])
    assert set(exiftool_keywords(tmp_path / "a.jpg.xmp")["XMP-lr:HierarchicalSubject"]) == expected
    assert set(exiftool_keywords(photo)["XMP-lr:HierarchicalSubject"]) == expected


def test_cli_without_exiftool_says_so_once_and_still_writes_sidecars(tmp_path, capsys, monkeypatch):
    photo = helpers.photo(tmp_path / "a.jpg", Scene("star", "red", "white"))
    other = helpers.photo(tmp_path / "b.jpg", Scene("star", "red", "white"))
    monkeypatch.setenv("CLIPTAGGER_EXIFTOOL", "")
    before = photo.read_bytes(), other.read_bytes()
    code, _rows, err = run_cli(capsys, str(tmp_path), "--xmp-target", "both")
    assert code != 0 and err.count("needs ExifTool") == 1
    assert (tmp_path / "a.jpg.xmp").exists() and (tmp_path / "b.jpg.xmp").exists()
    assert (photo.read_bytes(), other.read_bytes()) == before
