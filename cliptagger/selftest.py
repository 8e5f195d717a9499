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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cliptagger.core.metadata.sidecars import WriteReport
    from cliptagger.core.session.facade import Session


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
    from cliptagger.core.media.synthetic import write_demo_folder

    written = write_demo_folder(folder / "photos", count=count, seed=31337)
    truth = {path: scene for path, scene in written}
    session, report = tag_and_write([path for path, _ in written])
    results = session.results()
    if len(results) != count:
        raise RuntimeError(f"tagged {len(results)} of {count} pictures")
    right = sum(f"Shapes|{truth[r.path].shape}" in r.keywords for r in results)
    if right < count * 0.75:
        raise RuntimeError(f"only {right} of {count} shapes recognised: the model is not working")
    if report.failed or len(report.written) != count:
        raise RuntimeError(f"sidecar write failed: {report.failed}")
    from cliptagger.core.metadata.sidecars import sidecar_path
    from cliptagger.core.metadata.xmp import keywords_in_sidecar

    for result in results:
        read_back = keywords_in_sidecar(sidecar_path(result.path).read_bytes())
        if sorted(read_back) != sorted(result.keywords):
            raise RuntimeError(f"sidecar of {result.path.name} read back {read_back}, expected {result.keywords}")
    return (f"tagged {count}/{count} pictures on {session.model.device} ({right}/{count} shapes right), "
            f"sidecar round trip for {count} pictures")


def tag_and_write(photos: list[Path], precision: str = "auto") -> "tuple[Session, WriteReport]":
    """The self-test's job, through the same session as the CLI and the app: tag with the
    demo model, accept every proposal above threshold, write sidecars (default style)."""
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for
    from cliptagger.core.session.facade import Session
    from cliptagger.user_label_sets import demo_label_sets

    session = Session(demo_label_sets())
    session.use_model(load_model(request_for("demo"), device="cpu", allow_download=False, precision=precision))
    for _outcome in session.tag(photos):
        pass
    session.accept_above_threshold()
    return session, session.write(description="cliptagger self-test")


if __name__ == "__main__":
    sys.exit(run_self_test())
