"""The self-test that packaged builds run, run here from source."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import ROOT


def test_self_test_passes_from_source():
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--self-test"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert "self-test: OK: tagged 8/8 pictures" in line and "sidecar round trip" in line


def test_window_start_does_not_import_torch():
    """The window must appear at once: importing torch is slow and happens in the worker."""
    code = (
        "import sys, time\n"
        "from cliptagger.gui.app import main\n"
        "from cliptagger.gui import main_window\n"
        "from cliptagger.gui.workers import tagging, thumbnails\n"
        "from cliptagger.gui.widgets import results_panel, label_editor\n"
        "assert 'torch' not in sys.modules, 'torch imported on the start-up path'\n"
        "assert 'open_clip' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr


def test_window_appears_quickly(tmp_path):
    import os

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for name in ("CACHE", "CONFIG", "DATA"):
        env[f"CLIPTAGGER_{name}_DIR"] = str(tmp_path / name.lower())
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--quit-after-show", "--model", "demo"],
                          capture_output=True, text=True, timeout=120, env=env)
    elapsed = time.perf_counter() - started
    assert "window shown" in done.stdout, done.stderr
    print(f"window shown {elapsed:.2f} s after launch (from source)")
