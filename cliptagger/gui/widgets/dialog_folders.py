"""Where a file dialog opens: never the folder the app happens to run in (with `make run`, its
source folder), but the user's own: Pictures for photos, Documents for label sets, Downloads
for model weights; the home folder when the platform has none of them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

PICTURES = QStandardPaths.PicturesLocation
DOCUMENTS = QStandardPaths.DocumentsLocation
DOWNLOADS = QStandardPaths.DownloadLocation


def start_folder(kind: QStandardPaths.StandardLocation) -> str:
    """The platform's folder of this kind if it exists, else the home folder."""
    folder = QStandardPaths.writableLocation(kind)
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def start_file(kind: QStandardPaths.StandardLocation, name: str) -> str:
    """``name`` in ``start_folder(kind)``: a save dialog's first suggestion."""
    return str(Path(start_folder(kind)) / name)



KEYWORD_LIST_FILTER = "Lightroom keyword list (*.txt)"
LABEL_FILE_FILTERS = f"Label sets (*.json);;{KEYWORD_LIST_FILTER}"


def ask_label_file(parent: QWidget, title: str, save_as: str = "") -> Optional[Path]:
    """A label-set file or Lightroom keyword list to open, or with ``save_as`` (the suggested
    name) to save (``.txt`` added when the keyword-list type was picked); None: cancelled."""
    if not save_as:
        path, _ = QFileDialog.getOpenFileName(parent, title, start_folder(DOCUMENTS), LABEL_FILE_FILTERS)
        return Path(path) if path else None
    path, chosen = QFileDialog.getSaveFileName(parent, title, start_file(DOCUMENTS, save_as), LABEL_FILE_FILTERS)
    if not path:
        return None
    return Path(path + ".txt") if chosen == KEYWORD_LIST_FILTER and not path.endswith(".txt") else Path(path)
