"""The desktop app, driven like a user would: drops, clicks (actions), checked on disk."""

from __future__ import annotations

import csv
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from cliptagger.core.engine import TaggingEngine  # noqa: E402
from cliptagger.core.labels import Label, LabelSet  # noqa: E402
from cliptagger.core.synthetic import write_demo_folder  # noqa: E402
from cliptagger.gui.image_list import Status  # noqa: E402
from cliptagger.gui.main_window import MainWindow  # noqa: E402
from cliptagger.settings import Settings, demo_label_sets  # noqa: E402

TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot):
    win = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    win.client.tagging.batch_size = 8
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_ready, timeout=TIMEOUT_MS)
    yield win
    win.close()


def drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    position = QPointF(window.width() / 2, window.height() / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PySide marks the only constructor so
        enter = QDragEnterEvent(position.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(position, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def run_to_end(qtbot, window):
    with qtbot.waitSignal(window.run_done, timeout=TIMEOUT_MS) as finished:
        window.run_action.trigger()
    return finished.args[0]


def test_drop_run_and_bars_show_engine_probabilities(qtbot, window, tmp_path, demo_model):
    written = write_demo_folder(tmp_path / "drop me", count=6, seed=5)
    drop(window, [tmp_path / "drop me"])
    qtbot.waitUntil(lambda: len(window.images.items) == 6, timeout=TIMEOUT_MS)
    drop(window, [tmp_path / "drop me", written[0][0]])  # a second drop adds no duplicates
    qtbot.wait(300)
    assert len(window.images.items) == 6
    assert run_to_end(qtbot, window) is False
    assert all(i.status is Status.TAGGED for i in window.images.items)

    window.table.selectRow(3)
    item = window.panel.item
    assert item is window.images.items[3]
    engine = TaggingEngine(demo_model, demo_label_sets())
    [expected] = list(engine.run([item.path]))
    for scores in expected.scores:
        shown = dict(window.panel.bars[scores.label_set.name].rows())
        for label, probability in zip(scores.label_set.labels, scores.probabilities):
            assert shown[label.keyword] == pytest.approx(probability, abs=1e-5)
        ordered = [p for _, p in window.panel.bars[scores.label_set.name].rows()]
        assert ordered == sorted(ordered, reverse=True)


def test_stop_mid_run_and_errors_are_listed(qtbot, window, tmp_path):
    write_demo_folder(tmp_path, count=120, seed=6)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    window.add_paths([tmp_path])
    qtbot.waitUntil(lambda: len(window.images.items) == 121, timeout=TIMEOUT_MS)
    produced = []  # counted in the worker thread itself, as the engine yields
    window.client.tagging.result.connect(lambda *_: produced.append(1))
    window.client.tagging.failure.connect(lambda *_: produced.append(1))
    with qtbot.waitSignal(window.run_done, timeout=TIMEOUT_MS) as finished:
        window.run_action.trigger()
        qtbot.waitUntil(lambda: len(window.images.tagged_items()) >= 16, timeout=TIMEOUT_MS)
        window.stop_action.trigger()  # Stop, as the user clicks it
        produced_at_stop = len(produced)
    assert finished.args == [True]
    done = len(window.images.tagged_items()) + len(window.images.errors())
    assert done == len(produced)
    assert done <= produced_at_stop + window.client.tagging.engine.batch_size  # at most the batch in flight
    assert done < 121
    # the rest finishes on the next run, and the broken file is an error with its reason
    assert run_to_end(qtbot, window) is False
    [error] = window.images.errors()
    assert error.path.name == "broken.jpg" and "truncated or corrupt" in error.error
    assert window.errors_button.text() == "1 error"
    assert len(window.images.tagged_items()) == 120


def test_accept_write_undo_and_export_through_actions(qtbot, window, tmp_path):
    from tests.xmp_readers import exiftool_keywords

    write_demo_folder(tmp_path / "photos", count=3, seed=8)
    window.add_paths([tmp_path / "photos"])
    qtbot.waitUntil(lambda: len(window.images.items) == 3, timeout=TIMEOUT_MS)
    run_to_end(qtbot, window)
    window.table.selectRow(0)
    window.reject_action.trigger()           # the first image's tags are rejected
    window.accept_all_action.trigger()       # ... then everything is accepted
    window.table.selectRow(1)
    window.reject_action.trigger()           # the second one rejected again
    first, second, third = window.images.items
    with qtbot.waitSignal(window.write_finished, timeout=TIMEOUT_MS):
        window.write_action.trigger()
    for item in (first, third):
        sidecar = Path(str(item.path) + ".xmp")
        assert set(exiftool_keywords(sidecar)["XMP-lr:HierarchicalSubject"]) == set(item.proposed_keywords)
        assert item.status is Status.WRITTEN
    assert not Path(str(second.path) + ".xmp").exists()

    with qtbot.waitSignal(window.undo_finished, timeout=TIMEOUT_MS):
        window.undo_action.trigger()
    assert not Path(str(first.path) + ".xmp").exists() and not Path(str(third.path) + ".xmp").exists()
    assert first.status is Status.TAGGED

    out = tmp_path / "scores.csv"
    with qtbot.waitSignal(window.export_finished, timeout=TIMEOUT_MS):
        window.export_csv(out, "scores")
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 4 and rows[0][:2] == ["path", "proposed_tags"]
    assert {r[0] for r in rows[1:]} == {str(i.path) for i in window.images.items}


def test_editing_label_sets_rescores_without_reencoding(qtbot, window, tmp_path):
    write_demo_folder(tmp_path, count=5, seed=9)
    window.add_paths([tmp_path])
    qtbot.waitUntil(lambda: len(window.images.items) == 5, timeout=TIMEOUT_MS)
    run_to_end(qtbot, window)
    encoded = []
    window.client.tagging.model.encode_listeners.append(encoded.append)
    new_sets = [LabelSet("Mood", (Label("bright"), Label("gloomy"))), *demo_label_sets()[:1]]
    with qtbot.waitSignal(window.rescore_finished, timeout=TIMEOUT_MS):
        window.apply_label_sets(new_sets)
    assert encoded == []  # no image went through the encoder again
    for item in window.images.items:
        assert [s.label_set.name for s in item.result.scores] == ["Mood", "Shape"]
    window.table.selectRow(0)
    assert set(window.panel.bars) == {"Mood", "Shape"}


def test_event_loop_stays_responsive_during_a_run(qtbot, window, tmp_path):
    import shutil

    from cliptagger.core.synthetic import Scene, render

    # big photos make a run of a few seconds: real decoding and encoding on the worker
    render(Scene("star", "red", "striped"), size=2400, seed=1).save(tmp_path / "big-000.jpg", quality=90)
    for index in range(1, 120):
        shutil.copyfile(tmp_path / "big-000.jpg", tmp_path / f"big-{index:03d}.jpg")
    window.add_paths([tmp_path])
    qtbot.waitUntil(lambda: len(window.images.items) == 120, timeout=TIMEOUT_MS)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    run_to_end(qtbot, window)
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(gaps) > 20
    assert max(gaps) < 0.100, f"longest gap {max(gaps) * 1000:.0f} ms"


def test_settings_are_remembered(qtbot, tmp_path):
    from cliptagger.settings import load_settings

    window = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model_ready, timeout=TIMEOUT_MS)
    window.settings.sidecar_style = "adobe"
    window.add_paths([tmp_path])
    window.resize(1111, 777)
    window.close()
    saved = load_settings()
    assert saved.model == "demo" and saved.sidecar_style == "adobe"
    assert saved.recent_folders[0] == str(tmp_path)
    assert saved.window_geometry


def test_label_set_editor_edits_previews_and_validates(qtbot, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox, QTableWidgetItem

    from cliptagger.core.labels import load_label_sets
    from cliptagger.gui.label_editor import LabelSetEditor

    editor = LabelSetEditor(demo_label_sets())
    qtbot.addWidget(editor)
    editor.set_list.setCurrentRow(1)  # Colour
    editor.threshold.setValue(0.55)
    editor.add_label()
    row = editor.labels.rowCount() - 1
    editor.labels.setItem(row, 0, QTableWidgetItem("teal"))
    editor.labels.setItem(row, 1, QTableWidgetItem("Colours"))
    colour = editor.label_sets()[1]
    assert colour.threshold == 0.55 and colour.labels[-1].keyword == "Colours|teal"
    assert "a teal shape." in editor.preview.toPlainText()
    ok = editor.buttons.button(QDialogButtonBox.Ok)
    for r in range(editor.labels.rowCount() - 1, 0, -1):  # leave one label in an exclusive set
        editor.labels.removeRow(r)
    editor._edited()
    assert "fewer than two" in editor.problem.text() and not ok.isEnabled()
    editor.labels.setItem(0, 0, QTableWidgetItem("red"))
    editor.add_label()
    editor.labels.setItem(1, 0, QTableWidgetItem("blue"))
    assert ok.isEnabled() and editor.problem.text() == ""
    exported = tmp_path / "sets.json"
    from cliptagger.core.labels import save_label_sets

    save_label_sets(exported, editor.label_sets())
    editor.import_from(exported)  # imported sets get unique names
    names = [s.name for s in editor.label_sets()]
    assert len(names) == 6 and len(set(n.casefold() for n in names)) == 6
    assert [s.name for s in load_label_sets(exported)] == ["Shape", "Colour", "Background"]


def test_weights_dialog_offers_download_unless_offline(qtbot):
    from cliptagger.core.weights import ModelRequest, resolve_weights
    from cliptagger.core.errors import WeightsUnavailableError
    from cliptagger.gui.model_dialog import WeightsDialog

    with pytest.raises(WeightsUnavailableError) as not_allowed:
        resolve_weights(ModelRequest("ViT-B-32-256", "datacomp_s34b_b86k"), allow_download=False)
    dialog = WeightsDialog("ViT-B-32-256", str(not_allowed.value))
    qtbot.addWidget(dialog)
    assert dialog.download_button.isEnabled()  # nothing says we are offline: offer it
    assert "605 MB" in dialog.download_button.text()
    with pytest.raises(WeightsUnavailableError) as offline:  # HF_HUB_OFFLINE=1 in the tests
        resolve_weights(ModelRequest("ViT-B-32-256", "datacomp_s34b_b86k"), allow_download=True)
    dialog = WeightsDialog("ViT-B-32-256", str(offline.value))
    qtbot.addWidget(dialog)
    assert not dialog.download_button.isEnabled()


def test_demo_model_uses_its_own_label_sets_and_keeps_the_users(qtbot):
    from cliptagger.settings import load_user_label_sets, save_user_label_sets

    mine = [LabelSet("Pets", (Label("dog"), Label("cat")))]
    save_user_label_sets(mine)
    window = MainWindow(Settings(model="ViT-B-32-256", device="cpu"), mine)
    qtbot.addWidget(window)
    # Only the label-set bookkeeping is under test: no model loads (and no weights dialog).
    window.client.tagging.model_failed.disconnect(window._model_failed)
    window.load_model = lambda allow_download=False: None
    window._switch_model("demo")
    assert [s.name for s in window.label_sets] == ["Shape", "Colour", "Background"]
    window.apply_label_sets(window.label_sets[:1])
    assert [s.name for s in load_user_label_sets()] == ["Pets"]  # the user's own file is untouched
    window._switch_model("ViT-B-32-256")
    assert [s.name for s in window.label_sets] == ["Pets"]
    window.client.shutdown()
