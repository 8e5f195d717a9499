"""``cliptagger --self-test``: proves a build works, headless, in a few seconds.

Loads the bundled demo model, tags generated pictures, writes a sidecar and reads it back
(in a temporary folder, with a private undo journal), prints one line and returns 0 when
everything held. Used by ``make package-test`` on the packaged executable.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def run_self_test(count: int = 8) -> int:
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="cliptagger-selftest-") as scratch:
            folder = Path(scratch)
            for name in ("CACHE", "CONFIG", "DATA"):
                os.environ[f"CLIPTAGGER_{name}_DIR"] = str(folder / name.lower())
            message = _check(folder, count)
    except Exception as err:  # the point is one line, whatever went wrong
        print(f"cliptagger self-test: FAILED: {type(err).__name__}: {err}", flush=True)
        if os.environ.get("CLIPTAGGER_DEBUG"):
            import traceback

            traceback.print_exc()
        return 1
    from cliptagger import __version__

    print(f"cliptagger {__version__} self-test: OK: {message} in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


def _check(folder: Path, count: int) -> str:
    from cliptagger.core.engine import ImageResult, TaggingEngine
    from cliptagger.core.model import load_model
    from cliptagger.core.sidecars import write_sidecars
    from cliptagger.core.synthetic import write_demo_folder
    from cliptagger.core.weights import request_for
    from cliptagger.core.xmp import keywords_in_sidecar
    from cliptagger.settings import demo_label_sets

    written = write_demo_folder(folder / "photos", count=count, seed=31337)
    model = load_model(request_for("demo"), device="cpu", allow_download=False)
    engine = TaggingEngine(model, demo_label_sets())
    results = [o for o in engine.run([p for p, _ in written]) if isinstance(o, ImageResult)]
    if len(results) != count:
        raise RuntimeError(f"tagged {len(results)} of {count} pictures")
    truth = {p: scene for p, scene in written}
    right = sum(f"Shapes|{truth[r.path].shape}" in r.keywords for r in results)
    if right < count * 0.75:
        raise RuntimeError(f"only {right} of {count} shapes recognised: the model is not working")
    first = results[0]
    report = write_sidecars({first.path: first.keywords})
    if report.failed or len(report.written) != 1:
        raise RuntimeError(f"sidecar write failed: {report.failed}")
    read_back = keywords_in_sidecar(report.written[0].read_bytes())
    if sorted(read_back) != sorted(first.keywords):
        raise RuntimeError(f"sidecar read back {read_back}, expected {first.keywords}")
    return (f"tagged {count}/{count} pictures on {model.device} ({right}/{count} shapes right), "
            f"sidecar round trip with {len(read_back)} keywords")


if __name__ == "__main__":
    sys.exit(run_self_test())
