"""``cliptagger explain``: an overlay PNG written whole, the grid as JSON, and one clear line
(never a traceback) for an unknown label, an unreadable photo or an unsafe --out."""

from __future__ import annotations

import json

from PIL import Image

from cliptagger import cli
from cliptagger.core.media.synthetic import Scene
from tests.helpers import photo, truncated_jpeg

DEMO = ["--model", "demo", "--device", "cpu", "--precision", "fp32"]


def test_writes_an_overlay_png_and_prints_the_grid(tmp_path, capsys):
    picture = photo(tmp_path / "star.jpg", Scene("star", "blue", "white"), seed=4)
    out = tmp_path / "heat.png"
    code = cli.main(["explain", str(picture), "--label", "Shape/star", "--out", str(out), "--json", *DEMO])
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK, captured.err
    data = json.loads(captured.out)
    assert data["label"] == "Shape/Shapes|star" and data["method"] == "gradient"
    assert (data["rows"], data["columns"]) == (8, 8) and max(map(max, data["grid"])) == 1.0
    with Image.open(out) as written:
        assert written.format == "PNG" and written.size == (256, 256)
        original = Image.open(picture).convert("RGB")
        assert written.convert("RGB").tobytes() != original.tobytes()  # the heat is drawn over it
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_unknown_label_and_unreadable_photo_are_one_line_each(tmp_path, capsys):
    picture = photo(tmp_path / "a.jpg")
    assert cli.main(["explain", str(picture), "--label", "Shape/hexagon", "--json", *DEMO]) == cli.EXIT_SETUP
    err = capsys.readouterr().err
    assert "Traceback" not in err and "has no label 'hexagon'" in err
    broken = truncated_jpeg(tmp_path / "broken.jpg")
    assert cli.main(["explain", str(broken), "--label", "Shape/circle", "--json", *DEMO]) == cli.EXIT_NOTHING_TAGGED
    err = capsys.readouterr().err
    assert "Traceback" not in err and "broken.jpg: the file is truncated or corrupt" in err


def test_out_must_be_a_png_and_never_the_photo(tmp_path, capsys):
    picture = photo(tmp_path / "a.png")
    before = picture.read_bytes()
    for out in (picture, tmp_path / "heat.jpg", tmp_path / "missing" / "heat.png"):
        assert cli.main(["explain", str(picture), "--label", "Shape/circle", "--out", str(out), *DEMO]) == cli.EXIT_SETUP
        assert "--out" in capsys.readouterr().err
    assert picture.read_bytes() == before
    assert cli.main(["explain", str(picture), "--label", "Shape/circle", *DEMO]) == cli.EXIT_SETUP
    assert "--out FILE.png" in capsys.readouterr().err
