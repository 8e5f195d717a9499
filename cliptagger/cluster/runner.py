"""The driver: list, skip what is cached, run the cluster, merge each batch as it comes back.

``fill_cache`` leaves the session's embedding cache holding every photo the cluster could
encode; the caller then runs the ordinary ``session.tag`` (which finds them cached and encodes
nothing) for scores, proposals, CSVs and sidecars. Idempotent and resumable: photos already
cached are never sent; every batch is written as a shard and merged as soon as it arrives, so
a run killed halfway keeps what it finished; a batch a dead worker's retry sends twice is
stored twice under the same key (INSERT OR REPLACE): nothing lost, nothing duplicated.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from cliptagger.cluster.shards import (
    MergeReport,
    batch_table,
    merge_leftover_shards,
    merge_shard_file,
    shard_folder,
    write_shard,
)
from cliptagger.core.errors import CliptaggerError
from cliptagger.core.tagging.cache import file_stamp, path_key
from cliptagger.core.tagging.engine import DRAFT_FACTOR, Progress

if TYPE_CHECKING:
    from cliptagger.cluster.pipeline import ModelSpec
    from cliptagger.core.session import Session


MAX_SHARD_ROWS = 256


@dataclass
class ClusterReport:
    total: int = 0                  # photos named
    already_cached: int = 0         # skipped: in the cache before this run
    sent: int = 0                   # photos given to the cluster
    encoded: int = 0                # embeddings that came back (merged into the cache)
    failed: dict[Path, str] = field(default_factory=dict)   # photo -> the decoder's reason
    cancelled: bool = False
    warnings: list[str] = field(default_factory=list)


def fill_cache(session: "Session", paths: Sequence[Path], spec: "ModelSpec", address: str = "local",
               actors: Optional[int] = None, progress: Optional[Callable[[Progress], None]] = None,
               cancel: Optional[threading.Event] = None, num_cpus: Optional[int] = None,
               encoder: Optional[type] = None) -> ClusterReport:
    """Encode on Ray every photo of ``paths`` the session's cache lacks, merging as batches finish."""
    from cliptagger.cluster import pipeline

    cache, model = session.cache(), session.model
    if model is None:
        raise CliptaggerError("--ray needs a model loaded first")
    if cache is None or cache.read_only:
        raise CliptaggerError("--ray fills the embedding cache, which is off or read-only here "
                              "(--no-cache, or see the warning above)")
    report = ClusterReport(total=len(paths))
    leftovers = merge_leftover_shards(cache, model.model_id)
    report.warnings += leftovers.warnings
    cached = cache.lookup(list(paths), model.model_id)
    report.already_cached = len(cached)
    rows = []
    for path in paths:
        if path in cached:
            continue
        stamp = file_stamp(path)
        if stamp is None:
            continue  # gone or unreadable: the session's own run reports it
        rows.append({"path": path_key(path), "size": stamp[0], "mtime_ns": stamp[1], "inode": stamp[2]})
    report.sent = len(rows)
    if not rows:
        return report

    pipeline.connect(address, num_cpus=num_cpus)
    batch_size = session.options.batch_size or 16
    draft = model.image_size * DRAFT_FACTOR if session.options.fast_decode else None
    folder = shard_folder(cache)
    merged = MergeReport()
    started, done = time.monotonic(), 0
    # Rows per shard: a merge costs the driver a file write and a cache transaction, so big
    # archives merge in shards of up to MAX_SHARD_ROWS; a small run still reports ~20 times.
    shard_rows = max(batch_size, min(MAX_SHARD_ROWS, len(rows) // 20))
    batches = pipeline.encoded_batches(rows, spec, model.preprocess, draft, model.image_size, batch_size, actors,
                                       encoder or pipeline.Encoder, shard_rows)
    try:
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception as err:  # a task or actor that failed for good (e.g. no weights on a node)
                raise CliptaggerError(f"the Ray run stopped: {str(err).strip().splitlines()[-1][:500]}. The "
                                      f"{merged.stored} photos merged so far stay cached: run again to "
                                      "finish the rest") from None
            table = batch_table(batch)
            merge_shard_file(write_shard(folder, table), cache, model.model_id, merged)
            done += table.num_rows
            if progress is not None:
                progress(Progress(done, len(rows), len(merged.failed), time.monotonic() - started))
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    report.encoded = merged.stored
    report.failed = {Path(os.fsdecode(key)): reason for key, reason in merged.failed.items()}
    report.warnings += merged.warnings
    return report


def load_pipeline() -> None:
    """Import Ray (and the Ray side of cliptagger), or say how to install it."""
    try:
        import cliptagger.cluster.pipeline  # noqa: F401
    except ImportError as err:
        raise CliptaggerError(f"--ray needs Ray Data ({err}): pip install 'cliptagger[cluster]'") from None


def fill_cache_for_command(session: "Session", paths: Sequence[Path], address: str, model: str,
                           pretrained: str = "", checkpoint: Optional[Path] = None, text_language: str = "",
                           precision: str = "auto", actors: Optional[int] = None,
                           progress: Optional[Callable[[Progress], None]] = None) -> ClusterReport:
    """``cliptagger tag --ray``: the actors load the command's model themselves (``--device`` is the
    driver's; an actor uses the GPU Ray gives it, else its CPU)."""
    load_pipeline()
    from cliptagger.cluster.pipeline import ModelSpec

    spec = ModelSpec(model, pretrained, str(checkpoint) if checkpoint else None, text_language, precision)
    return fill_cache(session, paths, spec, address, actors=actors, progress=progress)
