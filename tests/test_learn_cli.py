"""`cliptagger learn`: the user's own keywords, written by exiftool, become learned labels."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cliptagger import cli
from cliptagger.core.media.synthetic import write_demo_folder
from tests.xmp_readers import require

MODEL = ["--model", "demo", "--device", "cpu", "--precision", "fp32", "--quiet"]


def exiftool(*args: str) -> None:
    subprocess.run([require("exiftool"), "-q", *args], check=True, capture_output=True, timeout=120)


def keyworded_library(folder: Path) -> tuple[dict[Path, object], list[Path]]:
    """48 generated pictures; the first 32 carry the user's keywords (half in sidecars, half
    embedded, in all three keyword properties), the last 16 none. Returns truth and the untagged."""
    pictures = write_demo_folder(folder, count=48, seed=2718, size=128)
    truth = {path: scene for path, scene in pictures}
    for index, (path, scene) in enumerate(pictures[:32]):
        flat, hierarchical = ["archive"], ["archive"]
        if scene.background == "dark":
            flat.append("night")
            hierarchical.append("Mood|night")
        if scene.colour in ("yellow", "orange"):
            flat.append("sunny")
            hierarchical.append("sunny")
        tags = [f"-XMP-dc:Subject={k}" for k in flat] + [f"-XMP-lr:HierarchicalSubject={k}" for k in hierarchical]
        if index % 4 == 3:  # digiKam writes its own list, with '/' between levels
            tags = [f"-XMP-digiKam:TagsList={k.replace('|', '/')}" for k in hierarchical]
        if index % 2:
            exiftool("-overwrite_original", *tags, str(path))          # embedded XMP
        else:
            exiftool("-o", f"{path}.xmp", *tags, str(path))           # an IMG.jpg.xmp sidecar
    return truth, [path for path, _ in pictures[32:]]


def test_learn_turns_existing_keywords_into_labels_proposed_on_untagged_photos(tmp_path, capsys):
    folder = tmp_path / "library"
    truth, untagged = keyworded_library(folder)
    assert list(folder.glob("*.jpg.xmp"))  # both kinds are there
    code = cli.main(["learn", str(folder), "--min-examples", "4", "--report", *MODEL])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "32 have keywords" in out
    assert "+ Mood|night" in out and "+ sunny" in out and "+ archive" in out
    assert "My keywords: Mood|night" in out  # the --report table

    table = tmp_path / "scores.csv"
    code = cli.main(["tag", *map(str, untagged), "--json", "--csv", str(table), *MODEL])
    rows = {Path(r["path"]): r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert "My keywords: Mood|night" in table.read_text(encoding="utf-8-sig").splitlines()[0]
    assert code == 0 and len(rows) == 16
    night_right = sum(("Mood|night" in rows[p]["keywords"]) == (truth[p].background == "dark") for p in untagged)
    sunny_right = sum(("sunny" in rows[p]["keywords"]) == (truth[p].colour in ("yellow", "orange"))
                      for p in untagged)
    assert any(truth[p].background == "dark" for p in untagged)
    assert night_right >= 15 and sunny_right >= 14, (night_right, sunny_right)
    assert all("My keywords" in r["scores"] for r in rows.values())

    code = cli.main(["tag", *map(str, untagged), "--json", "--zero-shot", *MODEL])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and all("My keywords" not in r["scores"] for r in rows)


def test_learn_with_too_few_photos_per_keyword_learns_nothing(tmp_path, capsys):
    folder = tmp_path / "library"
    keyworded_library(folder)
    code = cli.main(["learn", str(folder), "--min-examples", "100", *MODEL])
    assert code == cli.EXIT_NOTHING_TAGGED
    assert "nothing learned" in capsys.readouterr().err


def test_learn_forget_drops_one_labels_decisions_and_relearns(tmp_path, capsys):
    folder = tmp_path / "library"
    keyworded_library(folder)
    assert cli.main(["learn", str(folder), "--min-examples", "4", *MODEL]) == 0
    capsys.readouterr()
    # every one of the 32 keyworded photos is a decision (positive or negative) about "sunny"
    assert cli.main(["learn", "--forget", "My keywords/sunny", "--report", *MODEL]) == 0
    out = capsys.readouterr().out
    assert "forgot 32 decision(s) for 'My keywords: sunny'" in out
    assert "My keywords: Mood|night" in out  # the other labels keep theirs
    assert cli.main(["learn", "--forget", "My keywords/sunny", *MODEL]) == 0
    assert "forgot 0 decision(s)" in capsys.readouterr().out
    assert cli.main(["learn", *MODEL]) == cli.EXIT_SETUP  # neither paths nor --forget


def test_learn_leaves_out_cliptaggers_own_keywords_and_a_second_run_adds_to_the_first(tmp_path, capsys):
    """Issue 19, item 5: the keywords cliptagger wrote are not "the user's"; learning another
    folder keeps what an earlier run learned."""
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, keyword, seed in ((first, "holiday", 1), (second, "garden", 2)):
        pictures = write_demo_folder(folder, count=6, seed=seed, size=96)
        for path, _ in pictures:
            exiftool("-o", f"{path}.xmp", f"-XMP-dc:Subject={keyword}", str(path))
    # cliptagger's own proposals go into the same sidecars (recorded as its own)
    assert cli.main(["tag", str(first), "--write-xmp", *MODEL]) == 0
    capsys.readouterr()
    assert cli.main(["learn", str(first), "--min-examples", "4", *MODEL]) == 0
    out = capsys.readouterr().out
    assert "+ holiday" in out and "Shapes|" not in out  # only the user's keyword was counted
    assert cli.main(["learn", str(second), "--min-examples", "4", *MODEL]) == 0
    out = capsys.readouterr().out
    assert "+ garden" in out and "learned 2 label(s) into 'My keywords' (1 new, 1 kept from earlier runs)" in out
    assert cli.main(["tag", str(second), "--json", *MODEL]) == 0
    scores = json.loads(capsys.readouterr().out.splitlines()[0])["scores"]["My keywords"]
    assert set(scores) == {"holiday", "garden"}
