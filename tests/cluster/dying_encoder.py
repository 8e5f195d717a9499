"""An encoder actor whose worker process dies in the middle of one batch, once per marker file
(the marker is created just before the process exits: the restarted actor goes on normally)."""

from __future__ import annotations

import os
from pathlib import Path

from cliptagger.cluster.pipeline import Encoder, ModelSpec

#: Set in the test before the run; pickled by value with this module into the actor.
MARKER = {"path": ""}


class DyingEncoder(Encoder):
    def __init__(self, spec: ModelSpec, cpu_threads: int, tail=None) -> None:
        super().__init__(spec, cpu_threads, tail)
        self.marker, self.calls = Path(MARKER["path"]), 0

    def __call__(self, batch):
        self.calls += 1
        if self.calls == 2 and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies mid-batch: no cleanup, no reply
        return super().__call__(batch)
