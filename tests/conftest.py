"""Shared fixtures. Every test runs offline, headless, with private settings/cache folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"          # a test that reaches for the hub is a broken test
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_app_dirs(tmp_path_factory, monkeypatch):
    """Settings, caches and the undo journal go to temporary folders, never the user's."""
    base = tmp_path_factory.mktemp("appdirs")
    for name in ("CACHE", "CONFIG", "DATA"):
        folder = base / name.lower()
        folder.mkdir()
        monkeypatch.setenv(f"CLIPTAGGER_{name}_DIR", str(folder))
    return base


@pytest.fixture(scope="session")
def demo_model():
    """The bundled demo model, loaded once for the whole session (CPU)."""
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for

    return load_model(request_for("demo"), device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def demo_label_sets():
    from cliptagger.core.tagging.labels import load_label_sets

    return load_label_sets(ROOT / "resources/labels/demo.json")


@pytest.fixture(scope="session")
def held_out_pictures(tmp_path_factory):
    """Generated pictures the demo model never saw (a seed training does not use)."""
    from cliptagger.core.media.synthetic import write_demo_folder

    folder = tmp_path_factory.mktemp("held-out")
    return write_demo_folder(folder, count=64, seed=424242)
