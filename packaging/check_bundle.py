#!/usr/bin/env python3
"""Check a built bundle: its self-test passes, how big it is, how fast its window appears.

    python packaging/check_bundle.py dist/cliptagger
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    bundle = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/cliptagger")
    executable = bundle / ("cliptagger.exe" if os.name == "nt" else "cliptagger")
    if not executable.exists():
        print(f"no executable at {executable}: build with `make package` first")
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="cliptagger-bundle-"))
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    for name in ("CACHE", "CONFIG", "DATA"):
        env[f"CLIPTAGGER_{name}_DIR"] = str(scratch / name.lower())

    started = time.perf_counter()
    test = subprocess.run([str(executable), "--self-test"], capture_output=True, text=True, env=env, timeout=300)
    print((test.stdout.strip().splitlines() or ["(no output)"])[-1])
    print(f"self-test exit code {test.returncode}, {time.perf_counter() - started:.1f} s including start")
    if test.returncode != 0:
        print(test.stderr[-3000:])

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        process = subprocess.Popen([str(executable), "--quit-after-show", "--model", "demo"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        for line in process.stdout:  # type: ignore[union-attr]
            if "window shown" in line:
                timings.append(time.perf_counter() - started)
                break
        process.wait(timeout=120)
    size = folder_size(bundle)
    print(f"bundle: {bundle} {size / 2**20:.0f} MiB, {sum(1 for _ in bundle.rglob('*'))} files")
    if timings:
        print(f"window shown after {statistics.median(timings):.2f} s (median of {len(timings)} launches: "
              + ", ".join(f"{t:.2f}" for t in timings) + ")")
    return 0 if test.returncode == 0 and len(timings) == 3 else 1


if __name__ == "__main__":
    sys.exit(main())
