"""Synthetic photos with scores, no model: what the session's collaborators are tested on."""

from __future__ import annotations

from pathlib import Path

from cliptagger.core.tagging.engine import ImageResult, SetScores
from cliptagger.core.tagging.labels import Label, LabelSet, Mode
from cliptagger.core.tagging.scoring import Proposal

SCENE = LabelSet("Scene", (Label("beach"), Label("forest"), Label("city")), mode=Mode.EXCLUSIVE, threshold=0.3)


def scored(path: Path, probabilities: tuple[float, float, float] = (0.7, 0.2, 0.1)) -> ImageResult:
    """A result whose proposals follow the set's threshold, as the engine would make them."""
    proposals = [Proposal(label, p) for label, p in zip(SCENE.labels, probabilities) if p >= SCENE.threshold]
    return ImageResult(Path(path), embedding=None, scores=[SetScores(SCENE, list(probabilities), proposals)])


def library(count: int) -> list[Path]:
    return [Path(f"/photos/{i // 500:03d}/IMG_{i:06d}.jpg") for i in range(count)]
