"""Where a file dialog opens: never the folder the app happens to run in (with `make run`, its
source folder), but the user's own: Pictures for photos, Documents for label sets, Downloads
for model weights; the home folder when the platform has none of them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths

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

