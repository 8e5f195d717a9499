"""The app's remembered settings (window, model, device, folders, ...), every default in one place.

Stored as JSON in the appdirs config folder (``settings.json``), written atomically; a
damaged file is set aside as ``settings.json.damaged`` and the defaults are used, never a
crash. The user's label sets are their work, not a setting: ``user_label_sets``.
"""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.model.catalog import DEFAULT_KEY
from cliptagger.core.model.precision import Precision
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import atomic_write_text
from cliptagger.core.tagging.head_scoring import DEFAULT_TARGET_PRECISION

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

    def remember_layout(self, geometry: bytes, state: bytes, splitter: bytes) -> None:
        """The window's layout as Qt saved it (kept as base64 text in the JSON file)."""
        self.window_geometry, self.window_state, self.splitter_state = (
            base64.b64encode(bytes(value)).decode("ascii") for value in (geometry, state, splitter))

    def layout(self) -> tuple[bytes, bytes, bytes]:
        """(geometry, window state, splitter state) to restore; empty bytes where none was saved
        or the saved text is damaged."""
        def decoded(text: str) -> bytes:
            try:
                return base64.b64decode(text, validate=True)
            except (ValueError, TypeError):
                return b""
        return decoded(self.window_geometry), decoded(self.window_state), decoded(self.splitter_state)

    def remember_folder(self, folder: str) -> None:
        if folder in self.recent_folders:
            self.recent_folders.remove(folder)
        self.recent_folders.insert(0, folder)
        del self.recent_folders[MAX_RECENT_FOLDERS:]


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def set_aside_damaged(path: Path) -> None:
    """Keep a file of ours that cannot be read as ``NAME.damaged`` (the user may want it back)."""
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
        set_aside_damaged(path)
        return Settings()
    if not isinstance(data, dict):
        set_aside_damaged(path)
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
