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

from cliptagger.core.media.synthetic import write_demo_folder  # noqa: E402
from cliptagger.core.metadata.export import ExportFormat  # noqa: E402
from cliptagger.core.session.decisions import Decision  # noqa: E402
from cliptagger.core.tagging.engine import TaggingEngine  # noqa: E402
from cliptagger.core.tagging.labels import Label, LabelSet  # noqa: E402
from cliptagger.gui.main_window import MainWindow  # noqa: E402
from cliptagger.gui.widgets.image_list import Status  # noqa: E402
from cliptagger.settings import Settings  # noqa: E402
from cliptagger.user_label_sets import demo_label_sets  # noqa: E402
from tests.gui_helpers import closing_without_asking  # noqa: E402

TIMEOUT_MS = 60_000




def open_window(qtbot, settings: Settings | None = None, label_sets=None) -> MainWindow:
    win = MainWindow(settings or Settings(model="demo", device="cpu"), label_sets or demo_label_sets())
    win.session.options.batch_size = 8
    # pytest-qt closes it before fixtures tear down: the test is over, nothing to ask about
    qtbot.addWidget(win, before_close_func=closing_without_asking)
    win.show()
    qtbot.waitUntil(lambda: win.models.ready, timeout=TIMEOUT_MS)
    return win


@pytest.fixture
def window(qtbot):
    win = open_window(qtbot)
    yield win
    closing_without_asking(win)
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


def add_and_run(qtbot, window, folder: Path, count: int, seed: int = 8) -> list[Path]:
    """Generate ``count`` pictures in ``folder``, add it, tag them; returns their paths."""
    write_demo_folder(folder, count=count, seed=seed)
    window.add_paths([folder])
    qtbot.waitUntil(lambda: len(window.images.paths) == count, timeout=TIMEOUT_MS)
    run_to_end(qtbot, window)
    return list(window.images.paths)


def run_to_end(qtbot, window):
    with qtbot.waitSignal(window.run_done, timeout=TIMEOUT_MS) as finished:
        window.actions.run.trigger()
    return finished.args[0]


def select(window, path: Path) -> None:
    window.table.selectRow(window.sorted.row_of(path))


def write(qtbot, window):
    with qtbot.waitSignal(window.sidecars.write_finished, timeout=TIMEOUT_MS) as done:
        window.actions.write.trigger()
    return done.args[0]


def undo(qtbot, window):
    with qtbot.waitSignal(window.sidecars.undo_finished, timeout=TIMEOUT_MS) as done:
        window.actions.undo.trigger()
    return done.args[0]


# ---------------------------------------------------------------------------- the basics


@pytest.fixture
def fp32_window(qtbot):
    """A window whose model runs in fp32 whatever the CPU: for tests that compare numbers."""
    win = open_window(qtbot, Settings(model="demo", device="cpu", precision="fp32"))
    assert win.session.model.precision == "fp32"
    yield win
    closing_without_asking(win)
    win.close()


def test_drop_run_and_bars_show_engine_probabilities(qtbot, fp32_window, tmp_path):
    window = fp32_window
    written = write_demo_folder(tmp_path / "drop me", count=6, seed=5)
    drop(window, [tmp_path / "drop me"])
    qtbot.waitUntil(lambda: len(window.images.paths) == 6, timeout=TIMEOUT_MS)
    drop(window, [tmp_path / "drop me", written[0][0]])  # a second drop adds no duplicates
    qtbot.wait(300)
    assert len(window.images.paths) == 6
    assert run_to_end(qtbot, window) is False
    assert all(window.images.status(p) is Status.TAGGED for p in window.images.paths)

    path = window.images.paths[3]
    select(window, path)
    assert window.panel.path == path
    # the same model object (so the same precision) as the window's, scored by a fresh engine
    engine = TaggingEngine(window.session.model, demo_label_sets())
    [expected] = list(engine.run([path]))
    for scores in expected.scores:
        shown = dict(window.panel.bars[scores.label_set.name].rows())
        for label, probability in zip(scores.label_set.labels, scores.probabilities):
            assert shown[label.keyword] == pytest.approx(probability, abs=1e-5)
        ordered = [p for _, p in window.panel.bars[scores.label_set.name].rows()]
        assert ordered == sorted(ordered, reverse=True)


def test_stop_mid_run_and_errors_are_listed(qtbot, window, tmp_path):
    write_demo_folder(tmp_path, count=120, seed=6)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    assert not window.status.errors_button.isVisible()  # no "0 errors" before there is any
    window.add_paths([tmp_path])
    qtbot.waitUntil(lambda: len(window.images.paths) == 121, timeout=TIMEOUT_MS)
    produced = []  # counted in the worker thread itself, as the session yields
    window.client.tagging.result.connect(lambda *_: produced.append(1))
    window.client.tagging.failure.connect(lambda *_: produced.append(1))
    with qtbot.waitSignal(window.run_done, timeout=TIMEOUT_MS) as finished:
        window.actions.run.trigger()
        qtbot.waitUntil(lambda: len(window.session.results()) >= 16, timeout=TIMEOUT_MS)
        window.actions.stop.trigger()  # Stop, as the user clicks it
        produced_at_stop = len(produced)
    assert finished.args == [True]
    done = len(window.session.results()) + len(window.images.errors())
    assert done == len(produced)
    assert done <= produced_at_stop + window.session.engine.batch_size  # at most the batch in flight
    assert done < 121
    # the rest finishes on the next run, and the broken file is an error with its reason
    assert run_to_end(qtbot, window) is False
    [(path, reason)] = window.images.errors()
    assert path.name == "broken.jpg" and "truncated or corrupt" in reason
    assert window.images.status(path) is Status.ERROR
    assert window.status.errors_button.text() == "1 error" and window.status.errors_button.isVisible()
    assert len(window.session.results()) == 120
    select(window, path)  # the preview says what is wrong, not "drop a folder here"
    assert window.panel.preview.text() == "No preview: the file could not be read."


def test_accept_write_undo_and_export_through_actions(qtbot, window, tmp_path):
    from tests.xmp_readers import exiftool_keywords

    first, second, third = add_and_run(qtbot, window, tmp_path / "photos", 3)
    select(window, first)
    window.actions.reject.trigger()          # the first photo's tags are rejected
    window.actions.accept_all.trigger()      # ... which Accept All leaves rejected
    select(window, second)
    window.actions.accept.trigger()          # the second explicitly accepted
    report = write(qtbot, window)
    assert len(report.written) == 2
    for path in (second, third):
        sidecar = Path(str(path) + ".xmp")
        proposed = {k.keyword for k in window.session.proposed_keys(path)}
        assert set(exiftool_keywords(sidecar)["XMP-lr:HierarchicalSubject"]) == proposed
        assert window.images.status(path) is Status.WRITTEN
    assert not Path(str(first) + ".xmp").exists()

    undo(qtbot, window)
    assert not Path(str(second) + ".xmp").exists() and not Path(str(third) + ".xmp").exists()
    assert window.images.status(second) is Status.TAGGED
    assert window.actions.write.isEnabled()  # undone: the accepted tags are unwritten again

    out = tmp_path / "scores.csv"
    with qtbot.waitSignal(window.sidecars.export_finished, timeout=TIMEOUT_MS):
        window.sidecars.export(out, ExportFormat.SCORES)
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert {r["path"] for r in rows} == {str(p) for p in window.images.paths}
    accepted = {r["path"]: r["accepted_tags"] for r in rows}
    assert accepted[str(first)] == "" and accepted[str(third)] != ""


def test_editing_label_sets_rescores_without_reencoding(qtbot, window, tmp_path):
    add_and_run(qtbot, window, tmp_path, 5)
    encoded = []
    window.session.model.encode_listeners.append(encoded.append)
    new_sets = [LabelSet("Mood", (Label("bright"), Label("gloomy"))), *demo_label_sets()[:1]]
    with qtbot.waitSignal(window.rescore_finished, timeout=TIMEOUT_MS):
        window.apply_label_sets(new_sets)
    assert encoded == []  # no image went through the encoder again
    for result in window.session.results():
        assert [s.label_set.name for s in result.scores] == ["Mood", "Shape"]
    select(window, window.images.paths[0])
    assert set(window.panel.bars) == {"Mood", "Shape"}


def test_event_loop_stays_responsive_during_a_run(qtbot, window, tmp_path):
    import shutil

    from cliptagger.core.media.synthetic import Scene, render

    # big photos make a run of a few seconds: real decoding and encoding on the worker
    render(Scene("star", "red", "striped"), size=2400, seed=1).save(tmp_path / "big-000.jpg", quality=90)
    for index in range(1, 120):
        shutil.copyfile(tmp_path / "big-000.jpg", tmp_path / f"big-{index:03d}.jpg")
    window.add_paths([tmp_path])
    qtbot.waitUntil(lambda: len(window.images.paths) == 120, timeout=TIMEOUT_MS)
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

    window = open_window(qtbot)
    picker = window.sidecars.target_picker.style_picker
    picker.setCurrentIndex(picker.findData("adobe"))
    picker.activated.emit(picker.currentIndex())
    window.add_paths([tmp_path])
    window.resize(1111, 777)
    window.close()
    saved = load_settings()
    assert saved.model == "demo" and saved.sidecar_style == "adobe"
    assert saved.recent_folders[0] == str(tmp_path)
    assert saved.window_geometry


def test_label_set_editor_edits_previews_and_validates(qtbot, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox, QTableWidgetItem

    from cliptagger.core.tagging.labels import load_label_sets, save_label_sets
    from cliptagger.gui.widgets.label_editor import LabelSetEditor

    editor = LabelSetEditor(demo_label_sets())
    qtbot.addWidget(editor)
    editor.set_list.setCurrentRow(1)  # Colour
    editor.threshold.setValue(55)     # percent, as the bars show it
    editor.add_label()
    row = editor.labels.rowCount() - 1
    editor.labels.setItem(row, 0, QTableWidgetItem("teal"))
    editor.labels.setItem(row, 1, QTableWidgetItem("Colours"))
    colour = editor.label_sets()[1]
    assert colour.threshold == pytest.approx(0.55) and colour.labels[-1].keyword == "Colours|teal"
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
    save_label_sets(exported, editor.label_sets())
    from cliptagger.gui.widgets.label_editor_parts import ImportChoice

    editor.import_from(exported, ImportChoice.KEEP_BOTH)  # imported sets get unique names
    names = [s.name for s in editor.label_sets()]
    assert len(names) == 6 and len(set(n.casefold() for n in names)) == 6
    assert [s.name for s in load_label_sets(exported)] == ["Shape", "Colour", "Background"]


# ---------------------------------------------------------------------------- review defects


def test_1_label_set_edits_with_the_demo_model_survive_a_restart(qtbot):
    from cliptagger.user_label_sets import label_family, load_user_label_sets

    window = open_window(qtbot)
    mine = [LabelSet("Tint", (Label("warm"), Label("cool"))), *demo_label_sets()[:1]]
    with qtbot.waitSignal(window.rescore_finished, timeout=TIMEOUT_MS):
        window.apply_label_sets(mine)
    assert "saved" in window.statusBar().currentMessage()
    window.close()
    # what app.main does on the next start
    again = MainWindow(Settings(model="demo", device="cpu"), load_user_label_sets(label_family("demo")))
    qtbot.addWidget(again)
    assert [s.name for s in again.label_sets] == ["Tint", "Shape"]
    assert [s.name for s in load_user_label_sets()] != ["Tint", "Shape"]  # real models keep their own
    again.client.shutdown()


def test_2_changing_device_keeps_results_and_decisions(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    photos = add_and_run(qtbot, window, tmp_path / "a", 3)
    window.actions.accept_all.trigger()
    decided = window.session.review.count()
    offered = [window.models.device_picker.itemData(i) for i in range(window.models.device_picker.count())]
    assert "mps" not in offered and "cpu" in offered and offered[0] == "auto"  # only devices that exist
    window.models.device_picker.setCurrentIndex(offered.index("auto"))
    window.models.device_picker.activated.emit(window.models.device_picker.currentIndex())
    qtbot.waitUntil(lambda: not window.models.ready, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.models.ready, timeout=TIMEOUT_MS)
    assert window.session.review.count() == decided
    assert all(window.images.status(p) is Status.TAGGED for p in photos)
    window.flush_counts()
    assert window.status.counts_label.text() == "3 photos · 3 tagged"
    # and Run works afterwards
    write_demo_folder(tmp_path / "b", count=2, seed=77)
    window.add_paths([tmp_path / "b"])
    qtbot.waitUntil(lambda: len(window.images.paths) == 5, timeout=TIMEOUT_MS)
    assert run_to_end(qtbot, window) is False
    assert len(window.session.results()) == 5
    # a model switch that would drop results asks first; Cancel changes nothing
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel)
    assert window.models.switch_model("ViT-B-32") is False
    assert asked and window.models.model_key == "demo" and len(window.session.results()) == 5


def test_3_quit_and_clear_ask_about_unwritten_decisions(qtbot, window, tmp_path, monkeypatch):
    from cliptagger.gui.widgets import dialogs

    photos = add_and_run(qtbot, window, tmp_path, 2)
    select(window, photos[0])
    window.actions.accept.trigger()
    answers = []
    monkeypatch.setattr(dialogs, "ask_about_unwritten", lambda *a: answers.pop(0))
    answers.append(dialogs.UnwrittenChoice.CANCEL)
    window.close()
    assert window.isVisible()                             # Cancel: still open
    answers.append(dialogs.UnwrittenChoice.CANCEL)
    window.actions.clear.trigger()
    assert len(window.images.paths) == 2                  # Cancel: nothing cleared
    answers.append(dialogs.UnwrittenChoice.WRITE)
    with qtbot.waitSignal(window.sidecars.write_finished, timeout=TIMEOUT_MS):
        window.actions.clear.trigger()                    # Write: written first, then cleared
    assert Path(str(photos[0]) + ".xmp").exists()
    assert window.images.paths == [] and window.panel.path is None
    assert window.panel.preview.pixmap().isNull()         # the preview went with the list


def test_4_the_same_label_in_two_sets_has_two_ticks(qtbot, window, tmp_path):
    from cliptagger.core.session.decisions import TagKey
    from tests.xmp_readers import exiftool_keywords

    sets = [LabelSet("Colour", (Label("red"), Label("blue")), threshold=0.0, max_tags=2),
            LabelSet("Mood", (Label("red"), Label("calm")), threshold=0.0, max_tags=2)]
    with qtbot.waitSignal(window.rescore_finished, timeout=TIMEOUT_MS):
        window.apply_label_sets(sets)
    [photo] = add_and_run(qtbot, window, tmp_path, 1)
    select(window, photo)
    colour_red, mood_red = TagKey("Colour", "red"), TagKey("Mood", "red")
    window.panel.boxes[colour_red].setChecked(True)
    window.panel.boxes[mood_red].setChecked(True)
    window.panel.boxes[mood_red].click()                # a second click on Mood's red rejects only that one
    assert window.panel.boxes[colour_red].isChecked()
    assert "Colour: red" in window.panel.boxes[colour_red].text()  # the panel says which set
    text = window.images.tags_text(photo)  # the list names the set too (issue 19, item 8)
    assert "✓ Colour: red" in text and "✗ Mood: red" in text
    write(qtbot, window)
    assert exiftool_keywords(Path(str(photo) + ".xmp"))["XMP-dc:Subject"] == ["red"]


def test_4_editor_warns_about_a_keyword_in_two_sets(qtbot):
    from cliptagger.gui.widgets.label_editor import LabelSetEditor

    editor = LabelSetEditor([LabelSet("Colour", (Label("red"), Label("blue"))),
                             LabelSet("Mood", (Label("red"), Label("calm")))])
    qtbot.addWidget(editor)
    assert "“red” in Colour and Mood" in editor.warning.text()


def test_5_existing_keywords_are_read_on_add_and_follow_write_and_undo(qtbot, window, tmp_path):
    import subprocess

    [(photo, _)] = write_demo_folder(tmp_path, count=1, seed=3)
    # the user's own tagging, done in another program
    subprocess.run(["exiftool", "-q", "-o", f"{photo}.xmp", "-XMP-lr:HierarchicalSubject=Trips|Iceland",
                    "-XMP-dc:Subject=Iceland", str(photo)], check=True)
    window.add_paths([tmp_path])
    qtbot.waitUntil(lambda: len(window.images.paths) == 1, timeout=TIMEOUT_MS)
    select(window, photo)
    qtbot.waitUntil(lambda: "Trips|Iceland" in window.panel.existing_label.text(), timeout=TIMEOUT_MS)
    run_to_end(qtbot, window)
    window.actions.accept_all.trigger()
    write(qtbot, window)
    shown = window.panel.existing_label.text()
    assert "Trips|Iceland" in shown and all(k in shown for k in window.session.accepted_keywords(photo))
    undo(qtbot, window)
    shown = window.panel.existing_label.text()
    assert "Trips|Iceland" in shown and not any(k in shown for k in window.session.accepted_keywords(photo))


def test_6_accept_all_keeps_a_rejection_made_in_the_panel(qtbot, window, tmp_path):
    [photo] = add_and_run(qtbot, window, tmp_path, 1)
    select(window, photo)
    key = next(iter(window.panel.boxes))
    window.panel.boxes[key].setChecked(True)
    window.panel.boxes[key].click()                    # a second click: explicitly rejected
    window.actions.accept_all.trigger()
    assert window.session.review.get(photo)[key] is Decision.REJECTED
    assert window.panel.boxes[key].decision() is Decision.REJECTED


@pytest.mark.parametrize("offline", [True, False])
def test_7_first_run_dialog_says_one_thing_in_gui_words(qtbot, offline, monkeypatch):
    from cliptagger.core.errors import WeightsUnavailableError
    from cliptagger.core.model.weights import ModelRequest, resolve_weights
    from cliptagger.gui.widgets.model_dialog import WeightsDialog

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: "no connection"
    with pytest.raises(WeightsUnavailableError) as raised:
        resolve_weights(ModelRequest("ViT-B-32-256", "datacomp_s34b_b86k"), allow_download=offline)
    dialog = WeightsDialog("ViT-B-32-256", raised.value)
    qtbot.addWidget(dialog)
    text = dialog.text.text()
    assert "--" not in text and "turned off" not in text        # no CLI flags, no CLI reasons
    if offline:
        assert "cannot reach" in text and "download of" not in text
        assert dialog.download_button.text() == "Try Again"
    else:
        assert "offline" not in text.lower() and "605 MB" in text
        assert dialog.download_button.text() == "Download (605 MB)"


def test_7_offline_mode_offers_no_download(qtbot):
    from cliptagger.core.errors import WeightsUnavailableError
    from cliptagger.core.model.weights import ModelRequest, resolve_weights
    from cliptagger.gui.widgets.model_dialog import WeightsDialog

    with pytest.raises(WeightsUnavailableError) as raised:  # the tests run with HF_HUB_OFFLINE=1
        resolve_weights(ModelRequest("ViT-B-32-256", "datacomp_s34b_b86k"), allow_download=False)
    dialog = WeightsDialog("ViT-B-32-256", raised.value)
    qtbot.addWidget(dialog)
    assert dialog.download_button is None and "offline mode" in dialog.text.text()


def test_8_write_and_undo_are_disabled_with_nothing_to_do(qtbot, window, tmp_path):
    assert not window.actions.undo.isEnabled() and not window.actions.write.isEnabled()
    [photo] = add_and_run(qtbot, window, tmp_path, 1)
    assert not window.actions.write.isEnabled()          # tagged, nothing accepted yet
    window.actions.accept_all.trigger()
    assert window.actions.write.isEnabled()
    write(qtbot, window)
    assert window.actions.undo.isEnabled() and not window.actions.write.isEnabled()
    undo(qtbot, window)
    assert not window.actions.undo.isEnabled()


def test_8_editor_says_what_is_wrong_with_a_set_name(qtbot):
    from cliptagger.gui.widgets.label_editor import LabelSetEditor

    editor = LabelSetEditor(demo_label_sets())
    qtbot.addWidget(editor)
    assert editor.new_set("  ") is False and "needs a name" in editor.name_problem.text()
    assert editor.new_set("colour") is False and "already a label set called “Colour”" in editor.name_problem.text()
    editor.set_list.setCurrentRow(0)
    assert editor.rename_set("") is False and len(editor.label_sets()) == 3
    assert editor.rename_set("Shapes") is True and editor.name_problem.text() == ""


def test_8_numbers_near_the_threshold_show_which_side_they_are_on(qtbot, window, tmp_path):
    [photo] = add_and_run(qtbot, window, tmp_path, 1)
    result = window.session.result(photo)
    shape = result.scores[0]
    top = max(shape.probabilities)
    just_above = LabelSet("Shape", shape.label_set.labels, threshold=top - 1e-4)  # proposed, and shown as such
    just_below = LabelSet("Shape", shape.label_set.labels, threshold=top + 1e-4)
    for label_set, proposed in ((just_above, True), (just_below, False)):
        with qtbot.waitSignal(window.rescore_finished, timeout=TIMEOUT_MS):
            window.apply_label_sets([label_set])
        select(window, photo)
        bars = window.panel.bars["Shape"]
        shown = float(bars.value_texts()[0].rstrip("%")) / 100
        assert (shown >= label_set.threshold) == proposed, bars.value_texts()[0]
        assert len(bars.value_texts()[0].rstrip("%").partition(".")[2]) <= 1  # one decimal at most


def test_8_exiftool_export_shows_its_command_with_copy(qtbot, window, tmp_path):
    photos = add_and_run(qtbot, window, tmp_path / "photos", 2)
    window.actions.accept_all.trigger()
    with qtbot.waitSignal(window.sidecars.export_finished, timeout=TIMEOUT_MS):
        window.sidecars.export(tmp_path / "tags.csv", ExportFormat.EXIFTOOL)
    dialog = window.sidecars.command_dialog
    assert dialog.isVisible() and "exiftool" in dialog.command.text()
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == dialog.command.text()
    assert photos


def test_8_export_opens_in_the_photos_folder(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    add_and_run(qtbot, window, tmp_path / "holiday", 2)
    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda _w, _t, start, _f: offered.append(start) or ("", ""))
    window.actions.export.trigger()
    assert Path(offered[0]).parent == tmp_path / "holiday"


def test_8_list_sorts_ignoring_letter_case(qtbot, window, tmp_path):
    import shutil

    [(source, _)] = write_demo_folder(tmp_path / "src", count=1, seed=4)
    for name in ("b.jpg", "A.jpg", "c.jpg", "B2.jpg"):
        shutil.copyfile(source, tmp_path / name)
    window.add_paths([tmp_path / n for n in ("b.jpg", "A.jpg", "c.jpg", "B2.jpg")])
    qtbot.waitUntil(lambda: len(window.images.paths) == 4, timeout=TIMEOUT_MS)
    window.table.sortByColumn(0, Qt.AscendingOrder)
    names = [window.sorted.path_at(r).name for r in range(4)]
    assert names == ["A.jpg", "b.jpg", "B2.jpg", "c.jpg"]


def test_8_help_explains_how_tagging_works(qtbot, window):
    window.actions.help.trigger()
    assert window.help_dialog.isVisible()
    assert "Templates" in window.help_dialog.findChild(__import__("PySide6.QtWidgets").QtWidgets.QTextBrowser).toPlainText()


def test_a_cache_that_cannot_be_written_warns_once_and_tagging_goes_on(qtbot, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("CLIPTAGGER_CACHE_DIR", str(blocker / "cache"))
    window = open_window(qtbot)
    photos = add_and_run(qtbot, window, tmp_path / "photos", 3)
    assert all(window.images.status(p) is Status.TAGGED for p in photos)
    qtbot.waitUntil(lambda: getattr(window, "warning_box", None) is not None, timeout=TIMEOUT_MS)
    assert "cache" in window.warning_box.text() and window.warning_box.isVisible()
    window.warning_box.close()
    window.warning_box = None
    write_demo_folder(tmp_path / "more", count=2, seed=9)
    window.add_paths([tmp_path / "more"])
    qtbot.waitUntil(lambda: len(window.images.paths) == 5, timeout=TIMEOUT_MS)
    run_to_end(qtbot, window)
    assert all(window.images.status(p) is Status.TAGGED for p in window.images.paths)
    assert window.warning_box is None  # said once, not once per run


def test_undo_of_a_sidecar_edited_since_offers_the_safe_forced_undo(qtbot, window, tmp_path):
    import subprocess

    from tests.xmp_readers import exiftool_keywords

    [photo] = add_and_run(qtbot, window, tmp_path, 1)
    window.actions.accept_all.trigger()
    write(qtbot, window)
    ours = window.session.accepted_keywords(photo)
    sidecar = Path(f"{photo}.xmp")
    # the user adds a keyword in another program after our write
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject+=Grandma", str(sidecar)], check=True)
    report = undo(qtbot, window)
    assert [p for p, _ in report.skipped] == [sidecar]
    box = window.sidecars.undo_box
    assert box is not None and box.isVisible() and "left as they are" in box.text()
    with qtbot.waitSignal(window.sidecars.undo_finished, timeout=TIMEOUT_MS) as forced:
        window.sidecars.force_button.click()
    assert forced.args[0].merged == [sidecar]
    subjects = exiftool_keywords(sidecar)["XMP-dc:Subject"]
    assert "Grandma" in subjects
    assert not {k.split("|")[-1] for k in ours} & set(subjects)


def test_run_and_picking_the_same_model_again_retry_a_model_whose_weights_were_declined(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QDialog

    from cliptagger.gui.controllers import model as model_controller

    asked = []
    monkeypatch.setattr(model_controller.WeightsDialog, "exec", lambda self: asked.append(1) or QDialog.Rejected)
    window = MainWindow(Settings(model="ViT-B-32-256", device="cpu"), demo_label_sets())
    qtbot.addWidget(window, before_close_func=closing_without_asking)
    window.show()
    qtbot.waitUntil(lambda: len(asked) == 1 and not window.models.loading, timeout=TIMEOUT_MS)
    assert not window.models.ready and "not loaded" in window.models.state_text
    write_demo_folder(tmp_path, count=1, seed=4)
    window.add_paths([tmp_path])
    qtbot.waitUntil(lambda: len(window.images.paths) == 1, timeout=TIMEOUT_MS)
    window.actions.run.trigger()  # not "loading" forever: it asks for the weights again
    qtbot.waitUntil(lambda: len(asked) == 2 and not window.models.loading, timeout=TIMEOUT_MS)
    picker = window.models.model_picker
    picker.activated.emit(picker.currentIndex())  # the same model, picked again: another try
    qtbot.waitUntil(lambda: len(asked) == 3, timeout=TIMEOUT_MS)


def test_a_damaged_settings_or_label_file_is_named_at_start_and_kept_aside(qtbot):
    """What app.main does with files it cannot read: defaults, the file kept, and a message."""
    from cliptagger.settings import load_settings, settings_path, take_state_notices
    from cliptagger.user_label_sets import label_family, label_sets_path, load_user_label_sets

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('{"model": "demo", "device": ' + "[" * 50_000)
    label_sets_path("demo").write_text('{"name": "A", "labels": ["a", "b"], "max_tags": 1e999}')
    settings = load_settings()
    settings.model, settings.device = "demo", "cpu"
    window = MainWindow(settings, load_user_label_sets(label_family("demo")))
    qtbot.addWidget(window)
    window.show_notices(take_state_notices())
    text = window.warning_box.text()
    assert str(settings_path()) in text and str(label_sets_path("demo")) in text
    assert "settings.json.damaged" in text and "label-sets-demo.json.damaged" in text
    assert [s.name for s in window.label_sets] == [s.name for s in demo_label_sets()]
    window.warning_box.close()
    window.client.shutdown()
