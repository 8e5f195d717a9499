"""The user's label sets, kept beside the settings in the documented label file format.

One file per model family: real CLIP models share ``label-sets.json``; the demo model, which
only knows coloured shapes, keeps its own ``label-sets-demo.json``. They are always saved
(they are the user's work), atomically; a file that cannot be read is set aside as
``NAME.damaged`` and the bundled sets are used.
"""

from __future__ import annotations

from pathlib import Path

from cliptagger.core.errors import LabelSetError
from cliptagger.core.model.catalog import DEFAULT_KEY, DEMO_KEY
from cliptagger.core.storage import paths
from cliptagger.core.tagging.labels import LabelSet, default_label_file, load_label_sets, save_label_sets
from cliptagger.settings import set_aside_damaged

#: Label set families: the demo model's toy world, and every real CLIP model.
DEMO_FAMILY, PHOTO_FAMILY = "demo", "photo"


def label_family(model_key: str) -> str:
    return DEMO_FAMILY if model_key.casefold() == DEMO_KEY else PHOTO_FAMILY


def label_sets_path(family: str = PHOTO_FAMILY) -> Path:
    name = "label-sets.json" if family == PHOTO_FAMILY else f"label-sets-{family}.json"
    return paths.config_dir() / name


def default_label_sets() -> list[LabelSet]:
    return load_label_sets(default_label_file(DEFAULT_KEY))


def demo_label_sets() -> list[LabelSet]:
    return load_label_sets(default_label_file(DEMO_KEY))


def load_user_label_sets(family: str = PHOTO_FAMILY) -> list[LabelSet]:
    """The user's label sets for a model family, or the bundled defaults the first time."""
    defaults = demo_label_sets if family == DEMO_FAMILY else default_label_sets
    path = label_sets_path(family)
    if not path.exists():
        return defaults()
    try:
        return load_label_sets(path)
    except LabelSetError as err:
        set_aside_damaged(path, str(err), what="label sets")
        return defaults()


def save_user_label_sets(label_sets: list[LabelSet], family: str = PHOTO_FAMILY) -> Path:
    path = label_sets_path(family)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_label_sets(path, label_sets)
    return path
