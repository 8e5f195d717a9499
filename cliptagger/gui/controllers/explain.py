"""Why this tag, in the window: click a label's bar in the results panel and the preview shows
where that label's score comes from; click it again (or pick another photo) and it goes.

The heatmap is computed by ``ExplainWorker`` on a thread of its own (decode, model, drawing);
the UI thread only keeps a small LRU of finished overlays, keyed by (photo, label, model),
and swaps the preview's pixmap. A click while another heatmap is still being computed
makes that one stale: its result is kept in the cache but not shown.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from cliptagger.gui.widgets.results_panel import PREVIEW_SIZE
from cliptagger.gui.workers.explain import ExplainOutcome, ExplainRequest, ExplainWorker

if TYPE_CHECKING:
    from cliptagger.core.session import Session
    from cliptagger.gui.widgets.results_panel import ResultsPanel

#: Overlays kept (each a preview-sized picture, about 0.25 MB).
CACHE_SIZE = 24
HINT = "Click a label's bar below to see where in the photo its score comes from."
Key = tuple[Path, str, str, str]


class ExplainController(QObject):
    """Owns the heatmap worker, the overlay cache and which overlay the preview shows."""

    #: Emitted on the UI thread when an overlay appears (the key) or goes (None).
    overlay_changed = Signal(object)
    _request = Signal(object)

    def __init__(self, parent: QObject, session: "Session", panel: "ResultsPanel",
                 message: Callable[[str, int], None]) -> None:
        super().__init__(parent)
        self.session, self.panel, self._message = session, panel, message
        self.cache: "OrderedDict[Key, QImage]" = OrderedDict()
        self.shown: Optional[Key] = None
        self.pending: Optional[Key] = None
        self._base: Optional[QPixmap] = None  # the preview under the overlay, to put back
        self._generation = 0
        panel.label_clicked.connect(self.toggle)
        panel.preview.setToolTip(HINT)
        self.worker = ExplainWorker(session)
        self.thread = QThread(self)
        self.thread.setObjectName("cliptagger-explain")
        self.worker.moveToThread(self.thread)
        self._request.connect(self.worker.explain)
        self.worker.finished.connect(self._finished)
        self.thread.start()

    @Slot(str, str)
    def toggle(self, set_name: str, keyword: str) -> None:
        """A click on a label's bar: show its heatmap, or hide it when it is the one shown."""
        path, model_id = self.panel.path, self.session.model_id
        if path is None or model_id is None:
            self._message("The model is still loading: try again in a moment.", 4000)
            return
        key: Key = (path, set_name, keyword, model_id)
        if key in (self.shown, self.pending):
            self.remove()
            return
        self.remove()
        image = self.cache.get(key)
        if image is not None:
            self.cache.move_to_end(key)
            self._show(key, image)
            return
        self._generation += 1
        self.worker.supersede(self._generation)
        self.pending = key
        self._message(f"Finding where “{keyword}” comes from in {path.name}…", 3000)
        self._request.emit(ExplainRequest(path, set_name, keyword, model_id, PREVIEW_SIZE, self._generation))

    def remove(self) -> None:
        """No overlay (and none on its way): the preview as it was."""
        self.pending = None
        if self.shown is None:
            return
        self.shown = None
        if self._base is not None:
            self.panel.preview.setPixmap(self._base)
        self._base = None
        self.panel.preview.setToolTip(HINT)
        self.overlay_changed.emit(None)

    def preview_shown(self, path: Optional[Path]) -> None:
        """The window put a (new) preview in the panel: another photo drops the overlay; the
        same photo (a sharper preview came) keeps it, over the new picture."""
        if self.pending is not None and self.pending[0] != path:
            self.pending = None
        if self.shown is None:
            return
        if self.shown[0] != path:
            self.shown, self._base = None, None
            self.panel.preview.setToolTip(HINT)
            self.overlay_changed.emit(None)
            return
        key, image = self.shown, self.cache.get(self.shown)
        self.shown = None
        if image is not None:
            self._show(key, image)

    def shutdown(self) -> None:
        self._generation += 1
        self.worker.supersede(self._generation)
        self.thread.quit()
        self.thread.wait(10_000)

    @Slot(object)
    def _finished(self, outcome: ExplainOutcome) -> None:
        key = outcome.request.key
        if outcome.image is not None:
            self.cache[key] = outcome.image
            self.cache.move_to_end(key)
            while len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)
        if key != self.pending:
            return  # stale: another label or photo was clicked since
        self.pending = None
        if outcome.image is None:
            self._message(f"No heatmap: {outcome.error}", 8000)
            return
        if self.panel.path == key[0]:
            self._show(key, outcome.image)

    def _show(self, key: Key, image: QImage) -> None:
        current = self.panel.preview.pixmap()
        self._base = QPixmap(current) if current is not None and not current.isNull() else None
        pixmap = QPixmap.fromImage(image)
        self.panel.preview.setPixmap(pixmap.scaled(PREVIEW_SIZE, PREVIEW_SIZE, Qt.KeepAspectRatio,
                                                   Qt.SmoothTransformation))
        self.shown = key
        self.panel.preview.setToolTip(f"Where “{key[2]}” ({key[1]}) comes from: red raises its score most. "
                                      "Click its bar again to hide.")
        self.overlay_changed.emit(key)
