"""Write failures stay in view (issue 19, item 4): the row says "not written", Show Errors
lists the photo and why, "Already has" shows a sidecar that cannot be read instead of
"(none)", the message offers no undo when nothing was written, and the quit prompt names
the photos whose tags are not written."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cliptagger.gui.widgets import dialogs  # noqa: E402
from cliptagger.gui.widgets.image_list import Status  # noqa: E402
from tests.test_gui import TIMEOUT_MS, add_and_run, write  # noqa: E402

MALFORMED = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF"  # cut off: not well-formed




def test_failed_writes_stay_in_view_and_are_named(qtbot, window, tmp_path, monkeypatch):
    paths = add_and_run(qtbot, window, tmp_path / "photos", 3)
    broken, piped, fine = sorted(paths)
    (broken.parent / f"{broken.name}.xmp").write_bytes(MALFORMED)
    os.mkfifo(piped.parent / f"{piped.name}.xmp")
    window.session.refresh_existing([broken])
    window.actions.accept_all.trigger()
    qtbot.waitUntil(lambda: window.session.counts().unwritten == 3, timeout=TIMEOUT_MS)

    report = write(qtbot, window)
    assert len(report.written) == 1 and len(report.failed) == 2
    message = window.statusBar().currentMessage()
    assert "2 failed (Show Errors" in message and "Undo: Ctrl+Z" in message  # one was written: undoable
    assert "sidecar(s)" not in message

    assert window.images.status(broken) is Status.WRITE_FAILED is window.images.status(piped)
    assert window.images.status(fine) is Status.WRITTEN
    errors = dict(window.images.errors())
    assert "not well-formed" in errors[broken] and "not a regular file" in errors[piped]
    button = window.status.errors_button  # counts what Show Errors lists, not only tagging errors
    assert not button.isHidden() and button.text() == "2 errors" and "2 not written" in button.toolTip()

    window.table.selectRow(window.sorted.row_of(broken))
    qtbot.waitUntil(lambda: window.panel.path == broken, timeout=TIMEOUT_MS)
    shown = window.panel.existing_label.text()
    assert "⚠" in shown and "not well-formed" in shown and "(none)" not in shown.splitlines()[1:]

    asked = {}

    def answer(box):
        asked["text"], asked["details"] = box.text(), box.detailedText()
        return 0

    monkeypatch.setattr(dialogs.QMessageBox, "exec", answer)
    window.sidecars.settle_unwritten("quitting", lambda: None)
    assert asked["text"].startswith("2 photos have accepted tags")
    assert str(broken) in asked["details"] and str(piped) in asked["details"] and "failed before" in asked["details"]

    # a later write that works clears the failure
    (broken.parent / f"{broken.name}.xmp").unlink()
    os.unlink(piped.parent / f"{piped.name}.xmp")
    again = write(qtbot, window)
    assert len(again.written) == 2 and not again.failed
    assert window.images.status(broken) is Status.WRITTEN and window.images.errors() == []
    assert window.status.errors_button.isHidden()


def test_a_write_where_nothing_was_written_offers_no_undo(qtbot, window, tmp_path):
    [only] = add_and_run(qtbot, window, tmp_path / "photos", 1)
    (only.parent / f"{only.name}.xmp").write_bytes(MALFORMED)
    window.actions.accept_all.trigger()
    qtbot.waitUntil(lambda: window.session.counts().unwritten == 1, timeout=TIMEOUT_MS)
    report = write(qtbot, window)
    assert report.written == [] and len(report.failed) == 1
    message = window.statusBar().currentMessage()
    assert message.startswith("Wrote 0 sidecars") and "Undo" not in message


def test_the_tags_column_tooltip_has_the_folder_and_every_tag(qtbot, window, tmp_path):
    from PySide6.QtCore import Qt

    [photo] = add_and_run(qtbot, window, tmp_path / "photos", 1)
    index = window.images.index(0, 2)
    tip = window.images.data(index, Qt.ToolTipRole)
    assert tip.startswith(str(photo)) and window.images.tags_text(photo) in tip


def test_a_pick_one_sets_note_says_why_it_counts_more_rejects_than_were_made(qtbot, window, tmp_path):
    paths = add_and_run(qtbot, window, tmp_path / "photos", 4)
    with qtbot.waitSignal(window.learning.relearned, timeout=TIMEOUT_MS):
        window.actions.accept_all.trigger()  # accepts only: the other labels of each set count as ✗
    window.table.selectRow(window.sorted.row_of(paths[0]))
    qtbot.waitUntil(lambda: window.panel.path == paths[0] and bool(window.panel.notes), timeout=TIMEOUT_MS)
    notes = [label.text() for label in window.panel.notes.values()]
    assert any("✗ counts photos you gave another label of this pick-one set" in text for text in notes), notes
