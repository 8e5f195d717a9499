"""Undo Last Write in the app takes back a write made elsewhere (the CLI, an earlier session,
another folder) only after saying which sidecars it names: it deleted them silently before."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from cliptagger.core.metadata.sidecars import write_sidecars  # noqa: E402
from tests import helpers  # noqa: E402
from tests.test_gui import TIMEOUT_MS, add_and_run  # noqa: E402


def test_a_write_made_outside_the_window_is_undone_only_when_confirmed(qtbot, window, tmp_path, monkeypatch):
    other = tmp_path / "other folder"
    other.mkdir()
    photo = helpers.photo(other / "IMG_1.jpg")
    write_sidecars({photo: ["beach"]})  # as `cliptagger tag --write-xmp` does
    sidecar = other / "IMG_1.jpg.xmp"
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, _title, text, *a: asked.append(text) or QMessageBox.No)
    window.sidecars.undo()
    assert len(asked) == 1 and str(other) in asked[0] and "1 sidecar" in asked[0]
    assert sidecar.exists() and "Nothing undone" in window.statusBar().currentMessage()

    monkeypatch.setattr(QMessageBox, "question", lambda *a: asked.append(a[2]) or QMessageBox.Yes)
    with qtbot.waitSignal(window.sidecars.undo_finished, timeout=TIMEOUT_MS):
        window.sidecars.undo()
    assert len(asked) == 2 and not sidecar.exists()


def test_the_windows_own_last_write_is_undone_without_a_question(qtbot, window, tmp_path, monkeypatch):
    add_and_run(qtbot, window, tmp_path / "a", 1)
    window.actions.accept_all.trigger()
    qtbot.waitUntil(lambda: window.session.counts().unwritten == 1, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.sidecars.write_finished, timeout=TIMEOUT_MS):
        window.actions.write.trigger()
    monkeypatch.setattr(QMessageBox, "question", lambda *a: (_ for _ in ()).throw(AssertionError("asked")))
    with qtbot.waitSignal(window.sidecars.undo_finished, timeout=TIMEOUT_MS):
        window.actions.undo.trigger()
    assert not list((tmp_path / "a").glob("*.xmp"))
