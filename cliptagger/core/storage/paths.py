"""Where cliptagger keeps its settings, caches and downloaded weights.

All locations follow the platform conventions through ``appdirs`` and can be
redirected with environment variables (used by the tests and by portable installs):

* ``CLIPTAGGER_CACHE_DIR``  - model weights (downloaded or converted) and the embedding cache
* ``CLIPTAGGER_CONFIG_DIR`` - settings and the user's label sets
* ``CLIPTAGGER_DATA_DIR``   - the undo journal
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import appdirs

from cliptagger import APP_NAME


def _dir(env_var: str, default: str) -> Path:
    return Path(os.environ.get(env_var) or default)


def cache_dir() -> Path:
    return _dir("CLIPTAGGER_CACHE_DIR", appdirs.user_cache_dir(APP_NAME, appauthor=False))


def weights_dir() -> Path:
    return cache_dir() / "weights"


def converted_dir() -> Path:
    """Hugging Face folders and OpenAI ``.pt`` files converted to open_clip safetensors."""
    return cache_dir() / "converted"


def config_dir() -> Path:
    return _dir("CLIPTAGGER_CONFIG_DIR", appdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return _dir("CLIPTAGGER_DATA_DIR", appdirs.user_data_dir(APP_NAME, appauthor=False))


def resources_dir() -> Path:
    """The bundled ``resources/`` folder, in a checkout and in a PyInstaller bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"  # cliptagger/core/storage/paths.py
