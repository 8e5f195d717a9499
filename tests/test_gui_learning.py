"""The app learns from ticks: accept/reject re-learns and re-scores with no image encoded,
and the decisions (and what was learned) survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from cliptagger.core.session.decisions import Decision  # noqa: E402
from cliptagger.gui.main_window import MainWindow  # noqa: E402
from cliptagger.gui.workers.learning import LEARNING  # noqa: E402
from cliptagger.settings import Settings  # noqa: E402
from tests.gui_helpers import closing_without_asking  # noqa: E402
from tests.test_learning import KEEPERS, KEY, keeper_pictures  # noqa: E402

TIMEOUT_MS = 60_000




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

    from cliptagger.core.learning.head_store import LearnedModel, load_learned
    from cliptagger.core.tagging.head_scoring import LabelStats, SetHead
    from cliptagger.core.tagging.labels import Label, LabelSet, Mode, load_label_sets
    from cliptagger.gui.widgets.label_editor import LabelSetEditor

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
    from cliptagger.core.session.learner import Learner
    from cliptagger.core.session.options import EngineOptions

    shown = LearnedModel("model-x")  # what the editor shows: it must not change it behind the session's back
    other = LabelSetEditor([pair], None, learned=shown)
    qtbot.addWidget(other)
    learner = Learner(EngineOptions())  # the session's, which installs imported heads under its lock
    learner.prepare("model-x")
    problems: list = []
    other.heads_imported.connect(lambda blocks, renamed: problems.extend(learner.import_heads("model-x", blocks,
                                                                                              renamed)))
    from cliptagger.gui.widgets.label_editor_parts import ImportChoice

    other.import_from(exported, ImportChoice.KEEP_BOTH)
    assert [s.name for s in other.label_sets()] == ["Pair", "Pair 2"]
    assert problems == [] and shown.heads == {}
    assert torch.equal(learner.learned.heads["Pair 2"].weight, learned.heads["Pair"].weight)
    assert load_learned("model-x")[0].heads.keys() == {"Pair 2"}  # saved for the next start


# ---------------------------------------------------------------------- target precision, in the app

NOISY = 10  # keepers and as many others; the calibrated threshold admits rejected photos below the
# lowest accepted one down to the target precision, so it moves with the target


def learned_window(qtbot, tmp_path, settings: Settings | None = None, existing: tuple[str, ...] = ()):
    """A window that has learned "keepers" from the keepers accepted and the others rejected;
    the first keeper has the ``existing`` keywords in a sidecar."""
    keepers, others = keeper_pictures(tmp_path / "photos", NOISY, seed=5)
    if existing:
        Path(f"{keepers[0]}.xmp").write_text(XMP.format("".join(f"<rdf:li>{k}</rdf:li>" for k in existing)),
                                             encoding="utf-8")
    window = open_window(qtbot, settings, label_sets=[KEEPERS])
    add_and_run(qtbot, window, [tmp_path / "photos"], 2 * NOISY)
    window.session.decide(keepers, Decision.ACCEPTED, KEY)
    window.session.decide(others, Decision.REJECTED, KEY)
    with qtbot.waitSignal(window.learning.relearned, timeout=TIMEOUT_MS):
        window.learning.decisions_changed()
    assert window.session.label_stats(KEY).threshold is not None  # calibrated (5+ of each)
    return window, keepers, others


def calibrated_cell(window) -> str:
    from cliptagger.core.tagging.head_scoring import calibrated_threshold

    head = window.session.learned.heads["Personal"]
    threshold = calibrated_threshold(head, KEEPERS, "keepers")
    return f"{threshold * 100:.1f} %"


def test_target_precision_is_a_remembered_setting_that_relearns_off_the_ui_thread(qtbot, tmp_path):
    import threading

    from cliptagger.settings import load_settings

    window, _, _ = learned_window(qtbot, tmp_path)
    threads = []
    relearn = window.session.relearn

    def watched(*args, **kwargs):
        threads.append(threading.current_thread())
        return relearn(*args, **kwargs)

    window.session.relearn = watched
    editor = window.edit_label_sets()
    assert editor.isVisible() and editor.target_precision.isEnabled()
    assert editor.target_precision.value() == 90 and editor.labels.item(0, 4).text() == calibrated_cell(window)
    at_90 = editor.labels.item(0, 4).text()

    with qtbot.waitSignal(window.learning.relearned, timeout=TIMEOUT_MS):
        editor.target_precision.setValue(70)
    qtbot.waitUntil(lambda: editor.learning_note.text() == "", timeout=TIMEOUT_MS)
    assert threads and threading.main_thread() not in threads  # the tagging thread did the work
    assert window.session.learned.target_precision == pytest.approx(0.7)
    assert window.settings.target_precision == pytest.approx(0.7)
    assert editor.labels.item(0, 4).text() == calibrated_cell(window) != at_90  # lower target, lower threshold
    assert float(editor.labels.item(0, 4).text().rstrip(" %")) < float(at_90.rstrip(" %"))
    editor.accept()
    assert window.label_editor is None

    editor = window.edit_label_sets()  # Cancel puts back the target the dialog opened with
    assert editor.target_precision.value() == 70
    with qtbot.waitSignal(window.learning.relearned, timeout=TIMEOUT_MS):
        editor.target_precision.setValue(95)
    assert window.session.learned.target_precision == pytest.approx(0.95)
    with qtbot.waitSignal(window.learning.relearned, timeout=TIMEOUT_MS):
        editor.reject()
    assert window.session.learned.target_precision == pytest.approx(0.7)
    assert window.settings.target_precision == pytest.approx(0.7)
    window.session.review.clear()
    window.close()
    assert load_settings().target_precision == pytest.approx(0.7)  # remembered with the other settings


def test_heads_stored_with_another_target_are_refitted_for_the_apps_on_load(qtbot, tmp_path):
    window, _, _ = learned_window(qtbot, tmp_path)  # learned at the default, 0.9
    window.session.review.clear()
    window.close()
    again = open_window(qtbot, Settings(model="demo", device="cpu", precision="fp32", target_precision=0.6),
                        label_sets=[KEEPERS])
    qtbot.waitUntil(lambda: again.session.learned.target_precision == pytest.approx(0.6), timeout=TIMEOUT_MS)


def test_target_precision_setting_is_kept_in_range():
    from cliptagger.settings import TARGET_PRECISION_RANGE, load_settings, save_settings, settings_path

    assert Settings().target_precision == 0.9
    assert Settings(target_precision=2.0).target_precision == TARGET_PRECISION_RANGE[1]
    save_settings(Settings(target_precision=0.75))
    assert load_settings().target_precision == 0.75
    settings_path().write_text('{"target_precision": 1, "model": "demo"}', encoding="utf-8")
    assert load_settings().target_precision == TARGET_PRECISION_RANGE[1]  # JSON's 1 is 1.0, clamped


# ---------------------------------------------------------------------- Learn from Existing Keywords

XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>{}'
       '</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>\n')


def keyworded_untagged(qtbot, tmp_path, monkeypatch):
    """A window listing 12 untagged photos, 8 with sidecar keywords; the worker will wait at
    ``gates``: "encode" before its 2nd image batch, "read" at the 6th sidecar read."""
    import threading

    from cliptagger.core.media.synthetic import write_demo_folder
    from cliptagger.core.session import sidecar_sync as session_module

    pictures = write_demo_folder(tmp_path / "library", count=12, seed=31, size=96)
    for index, (path, _scene) in enumerate(pictures[:8]):
        keywords = ["archive"] + (["night"] if index % 2 else ["day"])
        Path(f"{path}.xmp").write_text(XMP.format("".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)),
                                       encoding="utf-8")
    from cliptagger.user_label_sets import demo_label_sets

    window = open_window(qtbot, label_sets=demo_label_sets())
    window.session.engine.batch_size = 4  # three batches
    window.add_paths([tmp_path / "library"])
    qtbot.waitUntil(lambda: len(window.images.paths) == 12, timeout=TIMEOUT_MS)
    gates = {"encode": threading.Event(), "read": threading.Event()}
    batches, reads = [], []

    def slow_encoder(size: int) -> None:
        batches.append(size)
        if len(batches) == 2:
            gates["encode"].wait(TIMEOUT_MS / 1000)

    real_read = session_module.existing_keywords

    def slow_read(path, listing, ours=None):
        reads.append(path)
        if len(reads) == 6:
            gates["read"].wait(TIMEOUT_MS / 1000)
        return real_read(path, listing, ours)

    window.session.model.encode_listeners.append(slow_encoder)
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getInt", lambda *args: (2, True))  # the user types 2, OK
    return window, gates, batches, reads, slow_read


@pytest.mark.parametrize("stage", ["tagging", "reading"])
def test_learn_from_keywords_shows_progress_and_cancel_stops_it_adding_nothing(qtbot, tmp_path, monkeypatch,
                                                                                stage):
    from PySide6.QtWidgets import QMessageBox

    from cliptagger.core.session import sidecar_sync as session_module

    window, gates, batches, reads, slow_read = keyworded_untagged(qtbot, tmp_path, monkeypatch)
    monkeypatch.setattr(session_module, "existing_keywords", slow_read)
    asked = []  # what was found is only shown when the work was not cancelled
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args) or QMessageBox.No)
    if stage == "reading":
        gates["encode"].set()
    try:
        window.learning.learn_from_keywords()
        dialog = window.learning.progress_dialog
        assert dialog is not None and dialog.isVisible()
        if stage == "tagging":  # the first batch encoded, the worker waits before the second
            # a batch holds what the decode pool has ready (4 on an idle machine, fewer under load)
            qtbot.waitUntil(lambda: len(batches) == 2, timeout=TIMEOUT_MS)
            first = batches[0]
            qtbot.waitUntil(lambda: f"Tagging the photos not tagged yet: {first} of 12" in dialog.labelText(),
                            timeout=TIMEOUT_MS)
            assert " left" in dialog.labelText() and dialog.value() == first and dialog.maximum() == 12
        else:  # all tagged, reading the sidecars: the worker waits at the 6th
            qtbot.waitUntil(lambda: "Reading the keywords of the photos: 0 of 12" in dialog.labelText(),
                            timeout=TIMEOUT_MS)
            qtbot.waitUntil(lambda: len(reads) == 6, timeout=TIMEOUT_MS)
        with qtbot.waitSignal(window.learning.keywords_cancelled, timeout=TIMEOUT_MS):
            dialog.cancel()  # the Cancel button
            gates["encode"].set()
            gates["read"].set()
    finally:
        gates["encode"].set()
        gates["read"].set()
    assert window.learning.progress_dialog is None and asked == []
    assert "nothing was added" in window.statusBar().currentMessage()
    assert "no label was added" in window.learning.notice.text() and window.learning.notice.isVisible()
    if stage == "tagging":
        assert len(batches) == 2 and reads == []  # stopped before the 3rd batch; no sidecar read
        assert sum(window.session.result(p) is None for p in window.images.paths) == 12 - sum(batches)
    else:
        assert len(reads) == 6  # stopped reading
    assert "My keywords" not in [s.name for s in window.session.learned.label_sets]
    assert window.session.examples().examples(window.session.model_id) == []


def test_learn_from_keywords_without_cancel_adds_the_labels(qtbot, tmp_path, monkeypatch):
    window, gates, _, _, _ = keyworded_untagged(qtbot, tmp_path, monkeypatch)
    gates["encode"].set()
    from PySide6.QtWidgets import QMessageBox

    asked = []  # what was found is shown first; the user agrees to add it
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args) or QMessageBox.Yes)
    stages = []
    window.learning.worker.progress.connect(lambda p: stages.append(p.stage))
    with qtbot.waitSignal(window.learning.keywords_learned, timeout=TIMEOUT_MS) as learned:
        window.learning.learn_from_keywords()
    assert learned.args[0].labels == ["archive", "day", "night"] and not learned.args[0].cancelled
    assert len(asked) == 1 and "archive" in asked[0][2]
    assert window.learning.progress_dialog is None
    assert "My keywords" in [s.name for s in window.session.learned.label_sets]
    assert all(window.session.result(p) is not None for p in window.images.paths)
    assert LEARNING in stages and stages.index(LEARNING) == len(stages) - 1  # busy, not "100%", while learning


def test_my_keywords_is_a_label_set_the_editor_edits_and_deletes(qtbot, tmp_path, monkeypatch):
    """The learned set is listed with the user's; a label removed or the set deleted there goes
    back to learning (its head with it), and it is never saved among the user's own sets."""
    from PySide6.QtWidgets import QDialog, QMessageBox

    from cliptagger.user_label_sets import load_user_label_sets

    window, gates, _, _, _ = keyworded_untagged(qtbot, tmp_path, monkeypatch)
    gates["encode"].set()
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.Yes)
    with qtbot.waitSignal(window.learning.keywords_learned, timeout=TIMEOUT_MS):
        window.learning.learn_from_keywords()
    editor = window.edit_label_sets()
    names = [s.name for s in editor.label_sets()]
    assert "My keywords" in names
    editor.set_list.setCurrentRow(names.index("My keywords"))
    editor.labels.selectRow(0)  # "archive"
    editor.remove_labels()
    with qtbot.waitSignal(window.learning.relearned, timeout=TIMEOUT_MS):  # re-learned for its labels now
        editor.done(QDialog.Accepted)
    learned = window.session.learned
    [mine] = [s for s in learned.label_sets if s.name == "My keywords"]
    assert [label.keyword for label in mine.labels] == ["day", "night"]
    assert "archive" not in learned.heads["My keywords"].keywords
    assert "My keywords" not in [s.name for s in load_user_label_sets("demo")]
    shown = {s.label_set.name for r in window.session.results() for s in r.scores}
    assert "My keywords" in shown

    editor = window.edit_label_sets()
    editor.set_list.setCurrentRow([s.name for s in editor.label_sets()].index("My keywords"))
    editor.delete_set()
    editor.done(QDialog.Accepted)
    learned = window.session.learned
    assert "My keywords" not in [s.name for s in learned.label_sets] and "My keywords" not in learned.heads
    qtbot.waitUntil(lambda: all(s.label_set.name != "My keywords" for r in window.session.results() for s in r.scores),
                    timeout=TIMEOUT_MS)


# ---------------------------------------------------------------------- the results panel


def test_panel_keywords_on_top_notes_wrap_and_learned_beside_zero_shot(qtbot, tmp_path):
    import re

    from PySide6.QtCore import QPoint

    from cliptagger.gui.widgets.results_panel import percent_text

    existing = ("Trips|Iceland|Reykjavik harbour at dawn", "a rather long keyword about the evening light", "family")
    window, keepers, _ = learned_window(qtbot, tmp_path, existing=existing)
    assert window.session.label_stats(KEY).used  # the learned head beat zero-shot: its row is learned
    window.table.selectRow(window.sorted.row_of(keepers[0]))
    qtbot.waitUntil(lambda: "family" in window.panel.existing_label.text(), timeout=TIMEOUT_MS)
    panel = window.panel
    qtbot.wait(50)  # let the layout settle at the default window size

    # (c) the photo's own keywords are in view without scrolling, above the proposals
    assert panel.verticalScrollBar().value() == 0
    top = panel.existing_label.mapTo(panel.widget(), QPoint(0, 0)).y()
    assert panel.existing_label.isVisible() and top + panel.existing_label.height() <= panel.viewport().height()
    assert top < panel.proposals_box.mapTo(panel.widget(), QPoint(0, 0)).y()

    # (b) the learned note wraps under its tick box: no sideways scrolling
    note = panel.notes[KEY]
    assert note.isVisible() and "learned from 10 ✓ / 10 ✗" in note.text()
    assert f"threshold {round(window.session.label_stats(KEY).threshold * 100, 1):g}%" in note.text()
    assert panel.horizontalScrollBar().maximum() == 0
    assert panel.widget().width() <= panel.viewport().width()

    # 4: learned and zero-shot side by side, in the note and on the bar
    row = next(r for r in window.session.review_rows(keepers[0]) if r.key == KEY)
    zero = window.session.zero_shot_probability(keepers[0], KEY)
    assert abs(zero - row.probability) > 0.01  # learning moved it
    assert note.text().startswith(f"learned {percent_text(row.probability, row.threshold)} · zero-shot "
                                  f"{percent_text(zero)} · ")
    assert panel.bars["Personal"].zero_shot() == {"keepers": pytest.approx(zero)}
    assert "zero-shot" in panel.bars["Personal"].row_tooltip(0)

    # (a) every percentage in the panel has one decimal at most
    shown = [box.text() for box in panel.boxes.values()] + [note.text()]
    shown += [text for bars in panel.bars.values() for text in bars.value_texts()]
    numbers = re.findall(r"\d+(?:\.\d+)?%", " ".join(shown))
    assert numbers and all(re.fullmatch(r"\d+(\.\d)?%", n) for n in numbers), numbers


@pytest.mark.parametrize("probability, threshold, expected", [
    (0.73214, 0.73218, "73%"),     # below, and reads below
    (0.73219, 0.73218, "73.3%"),   # above: rounded up rather than to a number under the threshold
    (0.9899, 0.99, "98.9%"),       # never 99% against a 99% threshold it misses
    (0.99996, 0.5, "99.9%"),       # nothing short of 1 reads 100%
    (0.5, 0.3, "50%"),             # whole where that is clear
    (0.304, 0.3, "30%"),
    (0.2996, 0.3, "29.9%"),
    (1.0, 0.9, "100%"),
])
def test_percentages_have_one_decimal_at_most_and_stay_on_their_side(probability, threshold, expected):
    from cliptagger.gui.widgets.results_panel import percent_text

    assert percent_text(probability, threshold) == expected
    assert (float(expected.rstrip("%")) / 100 >= threshold) == (probability >= threshold)
