#!/usr/bin/env python3
"""Regenerate docs/screenshot.png: the main window after tagging a demo folder.

    python tools/screenshot.py [--out docs/screenshot.png]

Runs headless (Qt's offscreen platform unless DISPLAY is set), with private settings
folders, the bundled demo model and generated pictures, exactly as a user would click it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--size", default="1360x860", help="window size, WIDTHxHEIGHT (check narrow layouts)")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = Path(tempfile.mkdtemp(prefix="cliptagger-shot-"))
    for name in ("CACHE", "CONFIG", "DATA"):
        os.environ[f"CLIPTAGGER_{name}_DIR"] = str(scratch / name.lower())

    from PySide6.QtWidgets import QApplication

    from cliptagger.core.media.synthetic import write_demo_folder
    from cliptagger.gui.main_window import THUMB_SIZE, MainWindow
    from cliptagger.settings import Settings
    from cliptagger.user_label_sets import demo_label_sets

    app = QApplication.instance() or QApplication([])
    app.setApplicationName("cliptagger")
    folder = scratch / "Holiday shapes"
    write_demo_folder(folder, count=args.count, seed=77)
    window = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()
    window.add_paths([folder])

    def wait_for(condition, timeout=300.0):  # a busy machine is slow, not broken
        deadline = time.monotonic() + timeout
        while not condition():
            app.processEvents()
            time.sleep(0.02)
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the window")

    wait_for(lambda: window.models.ready and len(window.images.paths) == args.count)
    window.actions.run.trigger()
    wait_for(lambda: not window.running and window.images.counts().tagged == args.count)
    window.table.selectRow(0)
    window.actions.accept_all.trigger()
    window.table.selectRow(2)
    in_view = [p for p in window.images.paths  # thumbnails are made for the rows on screen only
               if window.table.visualRect(window.sorted.index(window.sorted.row_of(p), 0)).intersects(
                   window.table.viewport().rect())]
    wait_for(lambda: all(window.thumbnails.cached(p, THUMB_SIZE) is not None for p in in_view), timeout=60)
    for _ in range(30):
        app.processEvents()
        time.sleep(0.02)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    print(f"wrote {args.out}")
    window.session.review.clear()  # a screenshot, not a session: nothing to ask about on close
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
