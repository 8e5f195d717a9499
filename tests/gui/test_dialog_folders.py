"""File dialogs open in the user's folders, never in the folder the app runs in (issue 19, item 9)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QFileDialog  # noqa: E402

from cliptagger.gui.widgets.dialog_folders import DOCUMENTS, start_folder  # noqa: E402
from cliptagger.gui.widgets.label_editor import LabelSetEditor  # noqa: E402
from cliptagger.user_label_sets import demo_label_sets  # noqa: E402


def test_the_documents_folder_when_there_is_one_else_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    assert start_folder(DOCUMENTS) == str(tmp_path)  # no Documents folder: home
    (tmp_path / "Documents").mkdir()
    assert start_folder(DOCUMENTS) == str(tmp_path / "Documents")


def test_label_set_export_and_import_open_in_the_users_folder_not_the_working_one(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    (tmp_path / "Documents").mkdir()
    monkeypatch.chdir(Path(__file__).parent)  # as with `make run`: the app's own source folder
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kw: asked.append(args[2]) or ("", ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kw: asked.append(args[2]) or ("", ""))
    editor = LabelSetEditor(demo_label_sets())
    qtbot.addWidget(editor)
    editor.export_sets()
    editor.import_sets()
    assert asked == [str(tmp_path / "Documents" / "label-sets.json"), str(tmp_path / "Documents")]
