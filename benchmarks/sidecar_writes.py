#!/usr/bin/env python3
"""What the safe sidecar write costs, next to a plain atomic write, measured side by side.

    python benchmarks/sidecar_writes.py [--sidecars 200] [--rounds 3] [--folder DIR]

Per sidecar (a real Lightroom sidecar from the tests, keywords merged in):

1. plain atomic write: read, merge, temp file + fsync + ``os.replace`` + folder fsync
   (what cliptagger did before issue 9, minus the journal);
2. safe write, file layer only: inter-process lock, consistent snapshot (stat, read,
   stat), the same temp file + fsync, re-check (stat + hash) and ``renameat2`` exchange
   with a check of what was swapped out;
3. the whole ``write_sidecars`` (lock, compare-and-swap, fsync'd undo journal with pre- and
   post-image hashes), against 1 plus the journal line of the old code.

Each step runs on fresh copies of the same sidecars, the steps interleaved round by round;
the best of ``--rounds`` is kept.
Disk speed dominates (fsync): run it on the disk the photos live on (``--folder``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEYWORDS = ["Shapes|circle", "Colours|red", "beach"]


def prepare(folder: Path, count: int) -> list[Path]:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    source = (ROOT / "tests" / "data" / "xmp" / "lightroom.xmp").read_bytes()
    photos = []
    for index in range(count):
        photo = folder / f"IMG_{index:05d}.jpg"
        photo.write_bytes(b"")
        (folder / f"{photo.name}.xmp").write_bytes(source)
        photos.append(photo)
    return photos


def plain(photos: list[Path], journal: bool) -> None:
    from cliptagger.core.metadata.journal import WriteBatch
    from cliptagger.core.metadata.xmp import updated_sidecar
    from cliptagger.core.storage.fileio import atomic_write_bytes

    batch = WriteBatch("benchmark") if journal else None
    for photo in photos:
        sidecar = photo.with_name(photo.name + ".xmp")
        existing = sidecar.read_bytes()
        data, _ = updated_sidecar(existing, KEYWORDS)
        if batch is not None:
            batch.record(sidecar, existing, data)
        atomic_write_bytes(sidecar, data)
    if batch is not None:
        batch.close()


def safe_file_layer(photos: list[Path]) -> None:
    from cliptagger.core.metadata.xmp import updated_sidecar
    from cliptagger.core.storage.fileio import replace_if_unchanged, snapshot
    from cliptagger.core.storage.locks import sidecar_lock

    for photo in photos:
        sidecar = photo.with_name(photo.name + ".xmp")
        with sidecar_lock(sidecar):
            before = snapshot(sidecar)
            data, _ = updated_sidecar(before.data, KEYWORDS)
            replace_if_unchanged(before, data)


def safe_full(photos: list[Path]) -> None:
    from cliptagger.core.metadata.sidecars import write_sidecars

    report = write_sidecars({p: KEYWORDS for p in photos})
    assert len(report.written) == len(photos), report.failed


def best_of(rounds: int, folder: Path, count: int, steps: dict) -> dict[str, float]:
    """Steps interleaved round by round (disk and neighbours drift); the best time of each."""
    for step in steps.values():  # warm up: imports, first journal folder, lock files
        step(prepare(folder, min(count, 5)))
    best = {name: float("inf") for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            photos = prepare(folder, count)
            started = time.perf_counter()
            step(photos)
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sidecars", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=None, help="where to write (default: a temp folder)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="cliptagger-bench-"))
    os.environ.setdefault("CLIPTAGGER_DATA_DIR", str(scratch / "data"))  # never the user's journal
    folder = (args.folder or scratch) / "sidecars"
    n = args.sidecars
    try:
        best = best_of(args.rounds, folder, n, {
            "plain atomic write": lambda p: plain(p, journal=False),
            "safe write (lock + CAS)": safe_file_layer,
            "plain atomic + journal (old)": lambda p: plain(p, journal=True),
            "write_sidecars (new, full)": safe_full,
        })
        rows = list(best.items())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if args.folder:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{n} sidecars, best of {args.rounds}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'step':<32}{'total ms':>10}{'ms/sidecar':>12}")
    for name, seconds in rows:
        print(f"{name:<32}{seconds * 1000:>10.1f}{seconds * 1000 / n:>12.3f}")
    print(f"ratio safe/plain (file layer):        {rows[1][1] / rows[0][1]:.2f}x")
    print(f"ratio new/old (with journal, merge):  {rows[3][1] / rows[2][1]:.2f}x")


if __name__ == "__main__":
    main()
