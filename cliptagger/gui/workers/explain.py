"""The heatmap worker ("why this tag"): decodes the photo, runs the explanation and draws
the overlay, all on its own thread; the UI thread only turns the finished QImage into a
pixmap. Requests made stale by a newer one are skipped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QImage

from cliptagger.core.errors import SessionError
from cliptagger.core.tagging import explain
from cliptagger.gui.workers.guarded import SupersedableWorker

if TYPE_CHECKING:
    from cliptagger.core.session import Session


@dataclass(frozen=True)
class ExplainRequest:
    path: Path
    label_set: str
    keyword: str
    model_id: str
    #: The overlay is drawn to fit a square of this many pixels (the preview's size).
    size: int
    generation: int = 0

    @property
    def key(self) -> tuple[Path, str, str, str]:
        """What a heatmap depends on: the photo, the label and the model."""
        return (self.path, self.label_set, self.keyword, self.model_id)


@dataclass(frozen=True)
class ExplainOutcome:
    request: ExplainRequest
    image: Optional[QImage]         # the photo with the heat over it; None when it failed
    heatmap: Optional[explain.Heatmap] = None
    error: str = ""


class ExplainWorker(SupersedableWorker):
    finished = Signal(object)  # ExplainOutcome

    def __init__(self, session: "Session") -> None:
        super().__init__()
        self.session = session

    @Slot(object)
    def explain(self, request: ExplainRequest) -> None:
        if self.is_stale(request.generation):
            return
        result = self.guarded(request.path.name, lambda: self._explain(request),
                              lambda message: self.finished.emit(ExplainOutcome(request, None, None, message)))
        if result is not None:
            self.finished.emit(ExplainOutcome(request, result[0], result[1]))

    def _explain(self, request: ExplainRequest) -> tuple[QImage, explain.Heatmap]:
        from cliptagger.core.media.heat_overlay import overlay
        from cliptagger.core.media.images import load_rgb

        model, engine = self.session.model, self.session.engine
        if model is None or engine is None or model.model_id != request.model_id:
            raise SessionError("the model changed; click the label again")
        direction = _direction(engine.prototypes(), request.label_set, request.keyword)
        detail = explain.choose_detail(model)
        picture = load_rgb(request.path, draft_size=max(model.image_size * detail, request.size))
        heatmap = explain.explain_picture(model, picture, direction, f"{request.label_set}/{request.keyword}",
                                          detail=detail)
        scale = min(1.0, request.size / max(picture.size))
        shown = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))))
        crop = tuple(round(v * scale) for v in heatmap.crop)
        drawn = overlay(shown, heatmap.grid, (crop[0], crop[1], crop[2], crop[3]))
        data = drawn.tobytes()
        image = QImage(data, drawn.width, drawn.height, 3 * drawn.width, QImage.Format_RGB888).copy()
        return image, heatmap


def _direction(prototypes: Any, set_name: str, keyword: str) -> Any:
    """The label's direction from the engine's prototypes (no text is encoded again)."""
    for set_prototypes in prototypes:
        label_set = set_prototypes.label_set
        if label_set.name != set_name:
            continue
        keywords = [label.keyword for label in label_set.labels]
        if keyword in keywords:
            return explain.direction_from_prototypes(set_prototypes, keywords.index(keyword))
    raise explain.ExplainError(f"the label {set_name}/{keyword} is not in the label sets any more")
