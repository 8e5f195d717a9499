"""Remembered settings, with every default in one place.

Stored as JSON in the appdirs config folder (``settings.json``); the user's label sets
live beside it in ``label-sets.json`` (the documented label file format). Both are written
atomically. A damaged settings file is set aside, never a crash.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cliptagger.core import paths
from cliptagger.core.catalog import DEFAULT_KEY
from cliptagger.core.fileio import atomic_write_text
from cliptagger.core.labels import LabelSet, load_label_sets, save_label_sets
from cliptagger.core.errors import LabelSetError

MAX_RECENT_FOLDERS = 10


@dataclass
class Settings:
    model: str = DEFAULT_KEY
    checkpoint: str = ""            # a local weights file chosen by the user, if any
    device: str = "auto"
    sidecar_style: str = "ext"
    window_geometry: str = ""       # base64 of QWidget.saveGeometry()
    window_state: str = ""          # base64 of QMainWindow.saveState()
    splitter_state: str = ""
    recent_folders: list[str] = field(default_factory=list)
    last_export_folder: str = ""

    def remember_folder(self, folder: str) -> None:
        if folder in self.recent_folders:
            self.recent_folders.remove(folder)
        self.recent_folders.insert(0, folder)
        del self.recent_folders[MAX_RECENT_FOLDERS:]


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def label_sets_path() -> Path:
    return paths.config_dir() / "label-sets.json"


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
    return Settings(**values)


def save_settings(settings: Settings) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(asdict(settings), indent=2) + "\n")


def default_label_sets() -> list[LabelSet]:
    return load_label_sets(paths.resources_dir() / "labels" / "photo-basics.json")


def demo_label_sets() -> list[LabelSet]:
    return load_label_sets(paths.resources_dir() / "labels" / "demo.json")


def load_user_label_sets() -> list[LabelSet]:
    path = label_sets_path()
    if not path.exists():
        return default_label_sets()
    try:
        return load_label_sets(path)
    except LabelSetError:
        _set_aside(path)
        return default_label_sets()


def save_user_label_sets(label_sets: list[LabelSet]) -> None:
    path = label_sets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_label_sets(path, label_sets)
