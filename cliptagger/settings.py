"""The app's remembered settings (window, model, device, folders, ...), every default in one place.

Stored as JSON in the appdirs config folder (``settings.json``), written atomically; a
damaged file is set aside as ``settings.json.damaged`` and the defaults are used, never a
crash. The user's label sets are their work, not a setting: ``user_label_sets``.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cliptagger.core.metadata.embedded import XmpTarget
from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.metadata.targets import DEFAULT_TARGET, TARGET_KEYS
from cliptagger.core.model.catalog import DEFAULT_KEY
from cliptagger.core.model.precision import Precision
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import atomic_write_text
from cliptagger.core.storage.strict_json import read_json_file
from cliptagger.core.storage.text_rules import keyword_form, keyword_problem
from cliptagger.core.tagging.head_scoring import DEFAULT_TARGET_PRECISION, TARGET_PRECISION_RANGE

MAX_RECENT_FOLDERS = 10
#: A settings file larger than this is not ours (ours is a few kilobytes).
MAX_STATE_FILE_BYTES = 1024 * 1024


@dataclass
class Settings:
    model: str = DEFAULT_KEY
    checkpoint: str = ""            # a local weights file chosen by the user, if any
    device: str = "auto"
    precision: str = Precision.AUTO.value  # a core.precision.Precision value; auto is measured at load
    sidecar_style: str = SidecarStyle.EXT.value
    #: Where accepted keywords are written: an XmpTarget value (sidecar, embedded, both).
    xmp_target: str = XmpTarget.SIDECAR.value
    #: Writing into a photo keeps its modification time (see EmbedOptions.preserve_mtime).
    preserve_photo_mtime: bool = True
    #: HEIC/AVIF are written into only when this is on too.
    embed_heif: bool = False
    window_geometry: str = ""       # base64 of QWidget.saveGeometry()
    window_state: str = ""          # base64 of QMainWindow.saveState()
    splitter_state: str = ""
    recent_folders: list[str] = field(default_factory=list)
    last_export_folder: str = ""
    target_precision: float = DEFAULT_TARGET_PRECISION
    #: Written keywords go below this keyword (``AI`` -> ``AI|beach``); empty: none.
    keyword_root: str = ""
    #: The photo app the keywords are written for (``core.metadata.targets``; ``custom``: the
    #: sidecar style above decides).
    target_app: str = DEFAULT_TARGET

    def __post_init__(self) -> None:
        low, high = TARGET_PRECISION_RANGE
        self.target_precision = min(high, max(low, float(self.target_precision)))
        if keyword_problem(self.keyword_root) and keyword_form(self.keyword_root):
            self.keyword_root = ""  # a damaged value: no root, rather than no session

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


_notices: list[str] = []


def take_state_notices() -> list[str]:
    """What happened to the user's settings and label files at load (set aside, why), once."""
    taken = list(_notices)
    _notices.clear()
    return taken


def set_aside_damaged(path: Path, reason: str, what: str = "settings") -> None:
    """Keep a file of ours that cannot be read under a new name (the user may want it back) and
    say so. An earlier damaged copy is never replaced: ``NAME.damaged``, ``NAME.damaged-2``..."""
    reason = reason.rstrip(".")
    for number in range(1, 1000):
        kept = path.with_name(path.name + (".damaged" if number == 1 else f".damaged-{number}"))
        if not os.path.lexists(kept):
            break
    try:
        os.rename(path, kept)
    except OSError as err:
        _notices.append(f"Your {what} file {path} cannot be read ({reason}), and could not be set aside "
                        f"({err.strerror or err}); the defaults are used for now.")
        return
    _notices.append(f"Your {what} file {path} could not be read ({reason}). It was kept as {kept.name} "
                    "and the defaults are used.")


def _valid_values() -> dict[str, set[str]]:
    return {"sidecar_style": {style.value for style in SidecarStyle}, "target_app": set(TARGET_KEYS),
            "xmp_target": {target.value for target in XmpTarget},
            "precision": {precision.value for precision in Precision}}


def load_settings() -> Settings:
    path = settings_path()
    try:
        data: Any = read_json_file(path, MAX_STATE_FILE_BYTES)
    except FileNotFoundError:
        return Settings()
    except ValueError as err:
        set_aside_damaged(path, str(err))
        return Settings()
    except OSError as err:
        _notices.append(f"Your settings file {path} cannot be read ({err.strerror or err}); the defaults are used.")
        return Settings()
    if not isinstance(data, dict):
        set_aside_damaged(path, f"it holds a JSON {type(data).__name__}, not an object")
        return Settings()
    known = {f.name for f in fields(Settings)}
    defaults = Settings()
    choices = _valid_values()
    values = {}
    for key, value in data.items():
        if key not in known:
            continue
        if type(getattr(defaults, key)) is float and type(value) is int:
            value = float(value)  # JSON wrote 1.0 as 1
        if type(value) is not type(getattr(defaults, key)):
            continue
        if isinstance(value, list):
            value = [item for item in value if isinstance(item, str)][:MAX_RECENT_FOLDERS]
        if key in choices and value not in choices[key]:
            continue
        values[key] = value
    return Settings(**values)


def save_settings(settings: Settings) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(asdict(settings), indent=2) + "\n")
