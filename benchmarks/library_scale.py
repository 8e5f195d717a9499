"""Library scale: UI-thread time per interaction at 2,000 and 20,000 photos, peak memory at
20,000 and 100,000, tagging throughput with and without a competing CPU-bound process.

    python benchmarks/library_scale.py                 # everything (a few minutes on 2 cores)
    python benchmarks/library_scale.py --skip-tagging  # the UI and memory tables only

Each size runs in its own process (a real, offscreen window; photos are synthetic results
stored straight into the session, as if tagged), so peak RSS is that size's alone. For each
interaction the time the UI thread spends in it (the call plus the events it posts) is
measured three times; the table shows the worst at 2k and at 20k and their ratio. The CPU
kind is printed with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_kind() -> str:
    name = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
        flags = Path("/proc/cpuinfo").read_text()
        name += ", AVX512-BF16" if "avx512_bf16" in flags else (", AVX2" if "avx2" in flags else "")
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def private_folders() -> None:
    for variable in ("CLIPTAGGER_CACHE_DIR", "CLIPTAGGER_DATA_DIR", "CLIPTAGGER_CONFIG_DIR"):
        os.environ.setdefault(variable, tempfile.mkdtemp(prefix="cliptagger-bench-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def measure_window(count: int) -> dict:
    """In this process: a window with ``count`` photos, each interaction timed."""
    private_folders()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from cliptagger.core.media.scan import ScanResult
    from cliptagger.core.session.decisions import Decision
    from cliptagger.gui.main_window import MainWindow
    from cliptagger.settings import Settings
    from cliptagger.user_label_sets import demo_label_sets
    from tests.core.session.scenes import library, scored

    app = QApplication.instance() or QApplication([])
    window = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    window.sidecars.settle_unwritten = lambda *_args: True
    window.resize(1200, 800)
    window.show()
    while not window.models.ready:
        app.processEvents()
        time.sleep(0.01)
    window.session.options.record_examples = False
    paths = library(count)
    begin = time.perf_counter()
    window.intake._scanned(ScanResult(images=paths))  # what a drop does once the scan is done
    add_turns = [time.perf_counter() - begin]
    while window.intake.busy:  # the photos go in a chunk per event-loop turn
        begin = time.perf_counter()
        app.processEvents()
        add_turns.append(time.perf_counter() - begin)
    add_s = max(add_turns, default=0.0)
    probabilities = [(0.7, 0.2, 0.1), (0.1, 0.6, 0.3), (0.2, 0.3, 0.5)]
    for index, path in enumerate(paths):
        window.session.photos.store(scored(path, probabilities[index % 3]))
    gc.freeze()  # what the end of a tagging run does (TaggingWorker.run): results stay
    window.images.refresh_all()
    app.processEvents()
    fill_turns = []  # sort keys computed in the background (a user pauses before clicking a header)
    while window.sorted.keys_pending():
        begin = time.perf_counter()
        app.processEvents()
        fill_turns.append(time.perf_counter() - begin)

    def settle() -> None:
        """Let background work finish (keywords read, re-learning, thumbnails) as a user's pause
        would, so a timing holds the interaction and not what an earlier one left queued."""
        quiet_since, deadline = time.perf_counter(), time.perf_counter() + 10
        while time.perf_counter() - quiet_since < 0.3 and time.perf_counter() < deadline:
            begin = time.perf_counter()
            app.processEvents()
            busy = window.sorted.keys_pending() or window.review.pending or window.intake.busy
            if time.perf_counter() - begin > 0.002 or busy:
                quiet_since = time.perf_counter()
            time.sleep(0.005)

    def timed(action) -> float:
        settle()
        begin = time.perf_counter()
        action()
        app.processEvents()
        return time.perf_counter() - begin

    table, sorted_rows = window.table, window.sorted

    def select_all_accept() -> None:  # the work itself, as the UI thread does it for a small selection
        table.selectAll()
        window.images.decide(window.selected_paths(), Decision.ACCEPTED)

    def select_all_accept_in_app() -> None:  # what the window's Accept does (off the UI thread when big)
        table.selectAll()
        window.review.decide_selected(Decision.ACCEPTED)

    interactions = {
        "add (drop) the photos": lambda: None,
        "sort by name": lambda: table.sortByColumn(0, Qt.AscendingOrder),
        "sort by status": lambda: table.sortByColumn(1, Qt.AscendingOrder),
        "sort by proposed tags": lambda: table.sortByColumn(2, Qt.AscendingOrder),
        "down arrow": lambda: (table.setFocus(), table.selectRow(3), window._current_changed()),
        "search shows 20, then Esc": lambda: (sorted_rows.show_only(set(paths[:20])), sorted_rows.show_only(None)),
        "counts and actions": window.flush_counts,
        "accept one photo": lambda: window.images.decide([paths[5]], Decision.ACCEPTED),
        "select all + accept (the work itself)": select_all_accept,
        "select all + Accept in the app (UI thread)": select_all_accept_in_app,
        "Accept All in the app (UI thread)": window.review.accept_all,
    }
    worst = {"sort keys, one background turn": max(fill_turns, default=0.0)}
    for name, action in interactions.items():
        worst[name] = add_s if name.startswith("add") else max(timed(action) for _ in range(3))
    clear_s = timed(window.images.clear)
    worst["clear list"] = clear_s
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    window.close()
    return {"count": count, "worst_s": worst, "peak_rss_mib": peak_mib}


def in_subprocess(count: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--one", str(count)], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def tagging_throughput(photos: int, size: int) -> tuple[float, float]:
    """img/s of a GUI-like tagging run (background worker priority), idle and beside one
    CPU-bound process; best of two each, interleaved."""
    private_folders()
    from cliptagger.core.media.synthetic import write_demo_folder
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for
    from cliptagger.core.session import EngineOptions, Session
    from cliptagger.core.tagging.threads import lower_current_thread_priority
    from cliptagger.user_label_sets import demo_label_sets

    folder = Path(tempfile.mkdtemp(prefix="cliptagger-bench-")) / "photos"
    pictures = [p for p, _ in write_demo_folder(folder, count=photos, seed=3, size=size)]
    rates: dict[bool, list[float]] = {False: [], True: []}

    def worker() -> None:  # as the app's tagging QThread: nicer than the UI thread
        lower_current_thread_priority()
        model = load_model(request_for("demo"), device="cpu", precision="fp32")
        for competing in (False, True, False, True):
            session = Session(demo_label_sets(), EngineOptions(background_priority=True, use_cache=False,
                                                               record_examples=False))
            session.use_model(model)
            rival = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if competing else None
            time.sleep(0.3)
            begin = time.perf_counter()
            done = sum(1 for _ in session.tag(pictures))
            rates[competing].append(done / (time.perf_counter() - begin))
            if rival is not None:
                rival.kill()
                rival.wait()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    return max(rates[False]), max(rates[True])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--skip-tagging", action="store_true")
    parser.add_argument("--sizes", type=int, nargs=2, default=(2_000, 20_000), metavar=("SMALL", "LARGE"))
    parser.add_argument("--memory", type=int, default=100_000, help="a third size, for peak memory only")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_window(args.one)))
        return 0
    print(f"CPU: {cpu_kind()}")
    small, large = (in_subprocess(n) for n in args.sizes)
    print(f"\n| interaction | worst at {small['count']:,} | worst at {large['count']:,} | ratio |")
    print("|---|---|---|---|")
    for name, at_small in small["worst_s"].items():
        at_large = large["worst_s"][name]
        ratio = at_large / at_small if at_small > 0 else float("nan")
        print(f"| {name} | {at_small * 1000:.1f} ms | {at_large * 1000:.1f} ms | {ratio:.2f} |")
    huge = in_subprocess(args.memory)
    print(f"\npeak RSS: {small['peak_rss_mib']:.0f} MiB at {small['count']:,}, {large['peak_rss_mib']:.0f} MiB at "
          f"{large['count']:,}, {huge['peak_rss_mib']:.0f} MiB at {huge['count']:,} photos")
    if not args.skip_tagging:
        idle, competing = tagging_throughput(photos=120, size=1600)
        print(f"tagging (demo model, 120 generated 1600 px JPEGs, worker priority as in the app): "
              f"{idle:.1f} img/s idle, {competing:.1f} img/s beside one CPU-bound process "
              f"({competing / idle:.2f} of idle)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
