"""Photos coming into the list: Add Folder / Add Files, Recent Folders, drops, the scan.

Folders are scanned on a thread of their own (``FolderScanner``); the photos found are added
to the list ``ADD_CHUNK`` at a time, one chunk per event-loop turn (a drop of 20,000 photos
never freezes the window), their existing keywords read on the writer thread. ``added`` tells
the window once a scan's photos are all in.
"""

from __future__ import annotations

import gc
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QEvent, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMenu

from cliptagger.core.media.scan import SUPPORTED_EXTENSIONS
from cliptagger.gui.widgets.dialog_folders import PICTURES, start_folder
from cliptagger.gui.wording import plural
from cliptagger.gui.workers.scanner import FolderScanner

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    from cliptagger.core.media.scan import ScanResult
    from cliptagger.gui.widgets.image_list import ImageListModel
    from cliptagger.gui.workers.tagging import WorkerClient
    from cliptagger.settings import Settings


#: Photos added to the list per event-loop turn.
ADD_CHUNK = 2_000


class PhotoIntake(QObject):
    #: The photos that were new to the list (maybe none).
    added = Signal(list)

    def __init__(self, window: "QMainWindow", settings: "Settings", images: "ImageListModel",
                 client: "WorkerClient", recent_menu: QMenu) -> None:
        super().__init__(window)
        self.window, self.settings, self.images, self.client = window, settings, images, client
        self.recent_menu = recent_menu
        self.scanner = FolderScanner(self)
        self.scanner.scanned.connect(self._scanned)
        #: Scan results still being added: (result, photos added so far, how far it got).
        self._adding: deque[tuple["ScanResult", list[Path], int]] = deque()
        self._add_timer = QTimer(self)
        self._add_timer.setSingleShot(True)
        self._add_timer.setInterval(0)
        self._add_timer.timeout.connect(self._add_some)
        self.fill_recent_menu()

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_folders:
            self.recent_menu.addAction(folder, lambda f=folder: self.add_paths([Path(f)]))
        self.recent_menu.setEnabled(bool(self.settings.recent_folders))

    def choose_folder(self) -> None:
        start = self.settings.recent_folders[0] if self.settings.recent_folders else start_folder(PICTURES)
        folder = QFileDialog.getExistingDirectory(self.window, "Add a folder of photos", start)
        if folder:
            self.add_paths([Path(folder)])

    def choose_files(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in sorted(SUPPORTED_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self.window, "Add photos", start_folder(PICTURES), f"Photos ({patterns});;All files (*)")
        if files:
            self.add_paths([Path(f) for f in files])

    def add_paths(self, paths: list[Path]) -> None:
        """Scan these files and folders (recursively, off the UI thread) and add what is found."""
        for path in paths:
            if path.is_dir():
                self.settings.remember_folder(str(path))
        self.fill_recent_menu()
        self.window.statusBar().showMessage("Looking for photos…")
        self.scanner.scan(paths)

    @property
    def busy(self) -> bool:
        """Photos found are still being added to the list."""
        return bool(self._adding)

    def stop_adding(self) -> None:
        """The list is being cleared: photos not in it yet are not added."""
        self._adding.clear()
        self._add_timer.stop()

    @Slot(object)
    def _scanned(self, found: "ScanResult") -> None:
        self._adding.append((found, [], 0))
        self._add_some()

    @Slot()
    def _add_some(self) -> None:
        """One chunk of the oldest scan result; the next turn does the next chunk."""
        if not self._adding:
            return
        found, added, done = self._adding.popleft()
        added += self.images.add_paths(found.images[done:done + ADD_CHUNK])
        done += ADD_CHUNK
        if done < len(found.images):
            self._adding.appendleft((found, added, done))
            self.window.statusBar().showMessage(f"Adding photos… {done:,} of {len(found.images):,}")
        else:
            self._report(found, added)
        if self._adding:
            self._add_timer.start()

    def _report(self, found: "ScanResult", added: list[Path]) -> None:
        gc.freeze()  # the photos' rows stay: out of the cyclic GC's full passes (see TaggingWorker.run)
        # Once all are in: the writer thread's reading competes with this thread for the GIL,
        # which tripled the time of each chunk. Thumbnails: asked by the table for rows it paints.
        self.client.read_keywords(added)
        images, problems = found.images, found.problems
        message = f"Added {len(added)} photo{'s' if len(added) != 1 else ''}"
        if len(images) > len(added):
            message += f" ({len(images) - len(added)} already in the list)"
        if problems:
            message += f"; {plural(len(problems), 'item')} skipped: " + "; ".join(f"{p.name}: {r}" for p, r in problems[:3])
        self.window.statusBar().showMessage(message, 8000)
        self.added.emit(added)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Folders and photos dropped onto the window (installed as its event filter)."""
        kind = event.type()
        if kind not in (QEvent.DragEnter, QEvent.DragMove, QEvent.Drop):
            return super().eventFilter(watched, event)
        drag = cast(QDropEvent, event)  # DragEnter and DragMove events are drop events too
        paths = [Path(u.toLocalFile()) for u in drag.mimeData().urls() if u.isLocalFile()]
        if not paths:
            event.ignore()
        else:
            drag.acceptProposedAction()
            if kind == QEvent.Drop:
                self.add_paths(paths)
        return True

    def shutdown(self) -> None:
        self.scanner.shutdown()
