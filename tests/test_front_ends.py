"""The CLI, the app and the self-test run one session: same folder in, same results and sidecars out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from cliptagger import cli  # noqa: E402
from cliptagger.core.media.synthetic import write_demo_folder  # noqa: E402
from cliptagger.core.metadata.sidecars import sidecar_path  # noqa: E402
from cliptagger.selftest import tag_and_write  # noqa: E402
from cliptagger.settings import Settings  # noqa: E402

TIMEOUT_MS = 60_000


def sidecars_by_name(folder: Path) -> dict[str, bytes]:
    return {p.name: sidecar_path(p).read_bytes() for p in sorted(folder.glob("*.jpg"))}


def test_cli_gui_and_self_test_agree(qtbot, tmp_path, capsys):
    originals = write_demo_folder(tmp_path / "original", count=10, seed=77)
    folders = {}
    for name in ("cli", "gui", "selftest"):
        folders[name] = tmp_path / name
        shutil.copytree(tmp_path / "original", folders[name])

    # The CLI: every proposal above threshold accepted, written, scores printed as JSON lines.
    code = cli.main(["tag", str(folders["cli"]), "--model", "demo", "--device", "cpu", "--precision", "fp32",
                     "--no-download", "--write-xmp", "--json", "--quiet"])
    assert code == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    cli_scores = {Path(r["path"]).name: r["scores"] for r in printed}
    cli_keywords = {Path(r["path"]).name: sorted(r["keywords"]) for r in printed}
    assert len(cli_scores) == len(originals)

    # The self-test's path.
    session, report = tag_and_write(sorted(folders["selftest"].glob("*.jpg")), precision="fp32")
    assert not report.failed
    self_keywords = {r.path.name: sorted(r.keywords) for r in session.results()}

    # The app: drop the folder, run, Accept All Above Threshold, Write XMP.
    from cliptagger.gui.main_window import MainWindow
    from cliptagger.user_label_sets import demo_label_sets

    window = MainWindow(Settings(model="demo", device="cpu", precision="fp32"), demo_label_sets())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.models.ready, timeout=TIMEOUT_MS)
    window.add_paths([folders["gui"]])
    qtbot.waitUntil(lambda: len(window.images.paths) == len(originals), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.run_done, timeout=TIMEOUT_MS):
        window.actions.run.trigger()
    window.actions.accept_all.trigger()
    with qtbot.waitSignal(window.sidecars.write_finished, timeout=TIMEOUT_MS) as done:
        window.actions.write.trigger()
    assert not done.args[0].failed
    gui_results = {r.path.name: r for r in window.session.results()}
    gui_keywords = {name: sorted(window.session.accepted_keywords(r.path)) for name, r in gui_results.items()}
    window.close()

    assert cli_keywords == gui_keywords == self_keywords
    assert any(cli_keywords.values())  # something was tagged, so the comparison means something
    for name, result in gui_results.items():
        for scores in result.scores:
            for label, probability in zip(scores.label_set.labels, scores.probabilities):
                assert cli_scores[name][scores.label_set.name][label.keyword] == pytest.approx(probability, abs=1e-5)
    assert sidecars_by_name(folders["cli"]) == sidecars_by_name(folders["gui"]) == sidecars_by_name(folders["selftest"])
