"""Start-up: time to the window's first paint, and the UI thread's worst gap in the 8 s after
it while the model loads (torch, open_clip and the weights, on the tagging thread), side by
side with the same launch where no model loads: what loading costs the window.

    python benchmarks/startup.py [--rounds 3]

Each launch is a fresh process (nothing imported yet, as a double-click), offscreen, with
private settings folders and the bundled demo model; the two ways alternate (ABAB...) so a
busy machine slows both alike. A 5 ms timer on the UI thread measures the gaps: a gap is
time the window could not answer. The CPU kind is printed with the figures.

Found with py-spy (--gil --native): a full cyclic-GC pass in the middle of loading (while the
tokenizer built its vocabulary, scanning everything torch had just created) held Python's lock
0.22 s; the loader now runs with the collector off (loading the demo model alone: worst gap
0.216 -> 0.03 s). What remains is torch's own import: its shared libraries are opened and
their C++ static initialisers run under Python's lock (about 0.25 s here).
Measured and rejected: importing torch before the window is shown moved the first paint from
0.6 s to 4.4 s (a loaded machine) and left the worst gap as it was; opening torch's libraries
first with ctypes (which lets go of the lock) changed nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.library_scale import cpu_kind  # noqa: E402

WINDOW_S = 8.0  # how long after the first paint the gaps are watched


def _launch(loading: bool) -> dict:
    begin = time.perf_counter()
    import os

    for variable in ("CLIPTAGGER_CACHE_DIR", "CLIPTAGGER_DATA_DIR", "CLIPTAGGER_CONFIG_DIR"):
        os.environ[variable] = tempfile.mkdtemp(prefix="cliptagger-start-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from cliptagger.gui.main_window import MainWindow
    from cliptagger.settings import Settings
    from cliptagger.user_label_sets import demo_label_sets

    application = QApplication([])
    if not loading:
        from cliptagger.gui.controllers.model import ModelController

        ModelController.load = lambda self, allow_download=False: None  # type: ignore[method-assign]
    window = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    window.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    application.processEvents()  # the first paint
    first_paint = time.perf_counter()
    ticks.append(first_paint)
    ready = None
    while time.perf_counter() - first_paint < WINDOW_S or (loading and ready is None):
        application.processEvents()
        time.sleep(0.001)
        if ready is None and window.models.ready:
            ready = time.perf_counter()
    ready = ready or time.perf_counter()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    window.close()  # every worker thread stopped, as when the user quits
    return {"first_paint_s": first_paint - begin, "ready_s": ready - begin, "worst_gap_s": max(gaps, default=0.0)}


def launch(loading: bool) -> dict:
    """In this process (a fresh one): the app's start-up, timed."""
    return _launch(loading)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", choices=["loading", "idle"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(launch(args.one == "loading")))
        return 0
    runs: dict[str, list[dict]] = {"loading": [], "idle": []}
    for _ in range(args.rounds):
        for way in ("loading", "idle"):
            out = subprocess.run([sys.executable, __file__, "--one", way], capture_output=True, text=True,
                                 check=True).stdout
            runs[way].append(json.loads(out.strip().splitlines()[-1]))
    print(f"start-up, demo model, {cpu_kind()}; median of {args.rounds} launches each (min-max)")
    print(f"{'launch':<24}{'first paint':>20}{'model ready':>20}{'worst UI gap (8 s)':>24}")
    for way, name in (("loading", "the app (model loads)"), ("idle", "no model loading")):
        cells = []
        for key in ("first_paint_s", "ready_s", "worst_gap_s"):
            values = sorted(r[key] for r in runs[way])
            cells.append(f"{values[len(values) // 2]:.2f} s ({values[0]:.2f}-{values[-1]:.2f})")
        print(f"{name:<24}{cells[0]:>20}{cells[1]:>20}{cells[2]:>24}")
    gap = {way: sorted(r["worst_gap_s"] for r in runs[way])[len(runs[way]) // 2] for way in runs}
    print(f"worst gap, loading / idle: {gap['loading'] / max(gap['idle'], 1e-9):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
