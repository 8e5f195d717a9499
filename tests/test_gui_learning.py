"""The app learns from ticks: accept/reject re-learns and re-scores with no image encoded,
and the decisions (and what was learned) survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from cliptagger.core.review import Decision  # noqa: E402
from cliptagger.gui.main_window import MainWindow  # noqa: E402
from cliptagger.settings import Settings  # noqa: E402
from tests.test_learning import KEEPERS, KEY, keeper_pictures  # noqa: E402

TIMEOUT_MS = 60_000


def closing_without_asking(window: MainWindow) -> None:
    window.sidecars.settle_unwritten = lambda *_args: True


def open_window(qtbot, settings: Settings | None = None, label_sets=None) -> MainWindow:
    win = MainWindow(settings or Settings(model="demo", device="cpu", precision="fp32"), label_sets)
    win.session.options.batch_size = 8
    # pytest-qt closes it before fixtures tear down: the test is over, nothing to ask about
    qtbot.addWidget(win, before_close_func=closing_without_asking)
    win.show()
    qtbot.waitUntil(lambda: win.models.ready, timeout=TIMEOUT_MS)
    return win


def add_and_run(qtbot, window: MainWindow, folders: list[Path], count: int) -> None:
    window.add_paths(folders)
    qtbot.waitUntil(lambda: len(window.images.paths) == count, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.run_done, timeout=TIMEOUT_MS):
        window.actions.run.trigger()


def tick(window: MainWindow, path: Path, decision: Decision) -> None:
    """Select the photo and tick (or untick) its label in the results panel, as a user would."""
    window.table.selectRow(window.sorted.row_of(path))
    assert window.panel.path == path
    window.panel.decision.emit(KEY, decision)


def keeper_probabilities(window: MainWindow, paths) -> list[float]:
    return [window.session.result(p).scores[0].probabilities[0] for p in paths]


def test_ticks_relearn_and_rescore_without_encoding_and_survive_a_restart(qtbot, tmp_path):
    keepers, others = keeper_pictures(tmp_path / "train", 8, seed=5)
    test_keepers, test_others = keeper_pictures(tmp_path / "test", 10, seed=6)
    folders = [tmp_path / "train", tmp_path / "test"]
    window = open_window(qtbot, label_sets=[KEEPERS])
    add_and_run(qtbot, window, folders, 36)
    zero_shot = keeper_probabilities(window, test_keepers + test_others)
    calls: list[int] = []
    window.session.model.encode_listeners.append(calls.append)

    with qtbot.waitSignal(window.learning.relearned, timeout=TIMEOUT_MS):
        for path in keepers:
            tick(window, path, Decision.ACCEPTED)
        for path in others:
            tick(window, path, Decision.REJECTED)
    qtbot.waitUntil(lambda: not window.learning._busy and not window.learning._timer.isActive(), timeout=TIMEOUT_MS)
    stat = window.session.label_stats(KEY)
    assert (stat.positives, stat.negatives) == (8, 8) and stat.used
    assert calls == []  # re-learned and re-scored from the embeddings in memory
    learned = keeper_probabilities(window, test_keepers + test_others)
    assert learned != zero_shot
    right = sum(p >= 0.5 for p in learned[:10]) + sum(p < 0.5 for p in learned[10:])
    assert right >= 17, learned
    tick(window, keepers[0], Decision.ACCEPTED)  # show a decided photo: the panel says what was learned
    shown = window.panel.notes[KEY].text()  # under the tick box, learned and zero-shot side by side
    assert "learned from 8 ✓ / 8 ✗, held-out accuracy" in shown and " · zero-shot " in shown
    with qtbot.waitSignal(window.sidecars.write_finished, timeout=TIMEOUT_MS):
        window.actions.write.trigger()
    assert window.session.unwritten() == []
    window.close()  # everything written: no question

    again = open_window(qtbot, label_sets=[KEEPERS])  # a restart: same data folder
    add_and_run(qtbot, again, folders, 36)
    assert again.session.review.get(keepers[0])[KEY] is Decision.ACCEPTED
    assert again.session.review.get(others[0])[KEY] is Decision.REJECTED
    assert again.session.label_stats(KEY).used
    assert again.session.unwritten() == []  # the restored decisions are on disk already: quitting asks nothing
    assert keeper_probabilities(again, test_keepers + test_others) == pytest.approx(learned, abs=1e-6)


def test_label_editor_shows_calibrated_thresholds_takes_overrides_and_exports_heads(qtbot, tmp_path):
    import torch
    from PySide6.QtWidgets import QTableWidgetItem

    from cliptagger.core.labels import Label, LabelSet, Mode, load_label_sets
    from cliptagger.core.learning import LabelStats, LearnedModel, SetHead, load_learned
    from cliptagger.gui.label_editor import LabelSetEditor

    pair = LabelSet("Pair", (Label("a"), Label("b", threshold=0.25)), mode=Mode.INDEPENDENT, threshold=0.5)
    learned = LearnedModel("model-x")
    learned.heads["Pair"] = SetHead("Pair", Mode.INDEPENDENT, ("a", "b"), torch.ones(2, 4), torch.zeros(2),
                                    [LabelStats("a", 12, 30, 0.6, 0.9, True, 0.725), LabelStats("b")])
    editor = LabelSetEditor([pair], None, learned=learned)
    qtbot.addWidget(editor)
    assert editor.labels.item(0, 4).text() == "72.5 %" and editor.labels.item(1, 4).text() == "—"
    assert editor.labels.item(1, 3).text() == "25"
    editor.labels.setItem(0, 3, QTableWidgetItem("80"))
    assert editor.label_sets()[0].labels[0].threshold == pytest.approx(0.8)
    editor.labels.setItem(0, 3, QTableWidgetItem("lots"))
    assert "percentage" in editor.problem.text()
    editor.labels.setItem(0, 3, QTableWidgetItem(""))
    assert editor.label_sets()[0].labels[0].threshold is None

    exported = tmp_path / "sets.json"
    editor.export_to(exported)
    assert [s.name for s in load_label_sets(exported)] == ["Pair"]
    receiving = LearnedModel("model-x")
    other = LabelSetEditor([pair], None, learned=receiving)
    qtbot.addWidget(other)
    other.import_from(exported)
    assert [s.name for s in other.label_sets()] == ["Pair", "Pair 2"]
    assert torch.equal(receiving.heads["Pair 2"].weight, learned.heads["Pair"].weight)
    assert load_learned("model-x")[0].heads.keys() == {"Pair 2"}  # saved for the next start
