"""Embedding shards: one Parquet file per batch the cluster returns, merged into the cache.

A shard is written atomically (whole or absent) into ``<cache folder>/cluster-shards/`` and
removed once its rows are in the embedding cache. A run killed between the two leaves the
shard behind: the next run merges it first, so no finished batch is encoded twice.

Columns: path (the file system's bytes), size, mtime_ns, inode (the file's identity taken
before it was decoded), model_id, embedding (float32 list, empty on error), error ("" when
the photo was encoded, else the decoder's reason). Shards are untrusted input: one that
cannot be read is set aside with a warning, never a failed run.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from cliptagger.core.storage.fileio import atomic_write_bytes, set_aside
from cliptagger.core.tagging.cache import EmbeddingCache, FileStamp

SHARD_FOLDER = "cluster-shards"
COLUMNS = ("path", "size", "mtime_ns", "inode", "model_id", "embedding", "error")


@dataclass
class MergeReport:
    """What merging shards into the cache did."""

    stored: int = 0                     # embeddings handed to the cache
    failed: dict[bytes, str] = field(default_factory=dict)   # path -> decoder's reason
    warnings: list[str] = field(default_factory=list)


def shard_folder(cache: EmbeddingCache) -> Path:
    return cache.location.parent / SHARD_FOLDER


def batch_table(batch: dict[str, Any]) -> Any:
    """A pyarrow table of one batch of encoder output (numpy columns as Ray hands them)."""
    import numpy as np
    import pyarrow as pa

    errors = [str(v) for v in batch["error"]]
    encoded = np.array([not e for e in errors], dtype=bool)
    vectors = np.asarray(batch["embedding"], dtype=np.float32).reshape(len(errors), -1)
    lengths = np.where(encoded, vectors.shape[1], 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    embeddings = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()),
                                          pa.array(vectors[encoded].reshape(-1), pa.float32()))
    return pa.table({
        "path": pa.array([bytes(p) for p in batch["path"]], pa.binary()),
        "size": pa.array(np.asarray(batch["size"], dtype=np.int64)),
        "mtime_ns": pa.array(np.asarray(batch["mtime_ns"], dtype=np.int64)),
        "inode": pa.array(np.asarray(batch["inode"], dtype=np.int64)),
        "model_id": pa.array([str(v) for v in batch["model_id"]], pa.string()),
        "embedding": embeddings,
        "error": pa.array(errors, pa.string()),
    })


def write_shard(folder: Path, table: Any) -> Path:
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    path = folder / f"shard-{uuid.uuid4().hex}.parquet"
    atomic_write_bytes(path, buffer.getvalue())
    return path


def merge_table(table: Any, cache: EmbeddingCache, model_id: str, report: MergeReport) -> bool:
    """Store the table's embeddings of ``model_id`` under their stamps; False if the cache refused."""
    import torch

    columns = {name: table.column(name).to_pylist() for name in COLUMNS if name != "embedding"}
    embeddings = table.column("embedding").combine_chunks()
    offsets = embeddings.offsets.to_numpy()
    values = embeddings.values.to_numpy(zero_copy_only=False)
    items: list[tuple[Path, Any]] = []
    stamps: dict[Path, Optional[FileStamp]] = {}
    for index, key in enumerate(columns["path"]):
        if columns["model_id"][index] != model_id:
            continue
        error = columns["error"][index]
        if error:
            report.failed[bytes(key)] = error
            continue
        path = Path(os.fsdecode(bytes(key)))
        vector = values[offsets[index]:offsets[index + 1]]
        if vector.size == 0:
            report.failed[bytes(key)] = "no embedding in the shard"
            continue
        items.append((path, torch.from_numpy(vector.astype("float32", copy=True))))
        stamps[path] = (columns["size"][index], columns["mtime_ns"][index], columns["inode"][index])
    if not items:
        return True
    report.stored += len(items)
    return cache.store(items, model_id, stamps)


def merge_shard_file(path: Path, cache: EmbeddingCache, model_id: str, report: MergeReport) -> None:
    """Merge one shard file and remove it; an unreadable one is set aside with a warning.
    A shard of another model is left for a run with that model."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        if tuple(table.column_names) != COLUMNS:
            raise ValueError(f"unexpected columns {table.column_names}")
    except Exception as err:  # damaged or foreign: untrusted input, the run goes on
        moved = set_aside(path)
        report.warnings.append(f"the embedding shard {path.name} cannot be read ({err}); set aside as {moved.name}")
        return
    if set(table.column("model_id").to_pylist()) - {model_id}:
        return
    if merge_table(table, cache, model_id, report):
        path.unlink(missing_ok=True)


def merge_leftover_shards(cache: EmbeddingCache, model_id: str) -> MergeReport:
    """Shards a killed run wrote but did not merge: into the cache before anything is planned."""
    report = MergeReport()
    folder = shard_folder(cache)
    if folder.is_dir():
        for path in sorted(folder.glob("shard-*.parquet")):
            merge_shard_file(path, cache, model_id, report)
    return report
