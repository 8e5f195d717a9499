"""Remembered settings, with every default in one place.

Stored as JSON in the appdirs config folder (``settings.json``); the user's label sets
live beside it in the documented label file format, one file per model family: real CLIP
models share ``label-sets.json``; the demo model, which only knows coloured shapes, keeps
its own ``label-sets-demo.json``. Label sets are always saved: they are the user's work.
Everything is written atomically. A damaged file is set aside, never a crash.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cliptagger.core.errors import LabelSetError
from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.model.catalog import DEFAULT_KEY, DEMO_KEY
from cliptagger.core.model.precision import Precision
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import atomic_write_text
from cliptagger.core.tagging.head_scoring import DEFAULT_TARGET_PRECISION
from cliptagger.core.tagging.labels import LabelSet, default_label_file, load_label_sets, save_label_sets

MAX_RECENT_FOLDERS = 10
#: The range of the precision a label's calibrated threshold aims for (the default: learning's).
TARGET_PRECISION_RANGE = (0.5, 0.99)


@dataclass
class Settings:
    model: str = DEFAULT_KEY
    checkpoint: str = ""            # a local weights file chosen by the user, if any
    device: str = "auto"
    precision: str = Precision.AUTO.value  # a core.precision.Precision value; auto is measured at load
    sidecar_style: str = SidecarStyle.EXT.value
    window_geometry: str = ""       # base64 of QWidget.saveGeometry()
    window_state: str = ""          # base64 of QMainWindow.saveState()
    splitter_state: str = ""
    recent_folders: list[str] = field(default_factory=list)
    last_export_folder: str = ""
    target_precision: float = DEFAULT_TARGET_PRECISION

    def __post_init__(self) -> None:
        low, high = TARGET_PRECISION_RANGE
        self.target_precision = min(high, max(low, float(self.target_precision)))

    def remember_folder(self, folder: str) -> None:
        if folder in self.recent_folders:
            self.recent_folders.remove(folder)
        self.recent_folders.insert(0, folder)
        del self.recent_folders[MAX_RECENT_FOLDERS:]


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


#: Label set families: the demo model's toy world, and every real CLIP model.
DEMO_FAMILY, PHOTO_FAMILY = "demo", "photo"


def label_family(model_key: str) -> str:
    return DEMO_FAMILY if model_key.casefold() == DEMO_KEY else PHOTO_FAMILY


def label_sets_path(family: str = PHOTO_FAMILY) -> Path:
    name = "label-sets.json" if family == PHOTO_FAMILY else f"label-sets-{family}.json"
    return paths.config_dir() / name


def _set_aside(path: Path) -> None:
    try:
        shutil.move(str(path), str(path.with_suffix(path.suffix + ".damaged")))
    except OSError:
        pass


def load_settings() -> Settings:
    path = settings_path()
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError):
        _set_aside(path)
        return Settings()
    if not isinstance(data, dict):
        _set_aside(path)
        return Settings()
    known = {f.name for f in fields(Settings)}
    defaults = Settings()
    values = {}
    for key, value in data.items():
        if key in known and type(value) is type(getattr(defaults, key)):
            values[key] = value
        elif key in known and type(getattr(defaults, key)) is float and type(value) is int:
            values[key] = float(value)  # JSON wrote 1.0 as 1
    return Settings(**values)


def save_settings(settings: Settings) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(asdict(settings), indent=2) + "\n")


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
    except LabelSetError:
        _set_aside(path)
        return defaults()


def save_user_label_sets(label_sets: list[LabelSet], family: str = PHOTO_FAMILY) -> Path:
    path = label_sets_path(family)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_label_sets(path, label_sets)
    return path
