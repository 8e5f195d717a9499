#!/usr/bin/env python3
"""``tag --ray`` against the single-process engine, on the same photos and cores, side by side.

    python benchmarks/cluster.py [--images 96] [--size 512] [--cpus 2] [--repeats 2]
                                 [--node-rate 1500] [--nodes 1,4,16,64]

Both sides encode every photo (cold cache each round) with the bundled demo model in fp32:

* engine: ``Session.tag`` in this process (the decode pool + the batched encoder, all cores);
* ray:    ``cluster.runner.fill_cache`` on a local Ray with ``--cpus`` CPUs (decode tasks,
  one encoder actor per two CPUs, each batch a Parquet shard merged into the cache),
  measured as the whole call (actor start-up and the model load in the actor included), with
  the time until the first shard came back.

The overhead ratio is ray time / engine time per round (median over --repeats interleaved
rounds). Ray's own start (``ray.init``) is printed apart: it is paid once per job.

Then, on paper: how long 10 million photos take on N GPU nodes at --node-rate images/s per
node (an assumption you give, e.g. one node's measured ``cliptagger models --measure`` img/s
on its GPU; the default 1500 img/s is a ViT-B/32 fp16 figure on one recent data-centre GPU
and is *not* measured here), with the driver's merge rate (measured here: shard write + cache
store per image) as the ceiling no number of nodes lifts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def session_for(cache_file: Path, batch_size: int):
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for
    from cliptagger.core.session import EngineOptions, Session
    from cliptagger.core.tagging.cache import EmbeddingCache
    from cliptagger.core.tagging.keyword_list import load_label_file
    from cliptagger.core.tagging.labels import default_label_file

    session = Session(load_label_file(default_label_file("demo")), EngineOptions(batch_size=batch_size),
                      cache=EmbeddingCache(cache_file))
    session.use_model(load_model(request_for("demo"), device="cpu", precision="fp32"))
    return session


def time_engine(paths: list[Path], work: Path, batch_size: int) -> float:
    session = session_for(work / f"engine-{time.monotonic_ns()}.sqlite3", batch_size)
    started = time.perf_counter()
    for _ in session.tag(paths, progress=None, cancel=threading.Event()):
        pass
    return time.perf_counter() - started


def time_ray(paths: list[Path], work: Path, batch_size: int) -> tuple[float, float, int, float]:
    """(whole call s, img/s after the first shard came back, photos in it, seconds until it came).

    The rate after the first shard flatters Ray: decode tasks run while the actor starts, so
    batches queue up and then arrive in a burst. The whole call is the honest figure."""
    from cliptagger.cluster.pipeline import ModelSpec
    from cliptagger.cluster.runner import fill_cache

    session = session_for(work / f"ray-{time.monotonic_ns()}.sqlite3", batch_size)
    marks: list[tuple[float, int]] = []
    started = time.perf_counter()
    fill_cache(session, paths, ModelSpec("demo", precision="fp32", device="cpu"),
               progress=lambda p: marks.append((time.perf_counter(), p.done)))
    whole = time.perf_counter() - started
    (first_t, first_n), (last_t, last_n) = marks[0], marks[-1]
    steady = (last_n - first_n) / (last_t - first_t) if last_t > first_t else float("nan")
    return whole, steady, first_n, first_t - started


def merge_cost(work: Path, batch_size: int, dim: int, rows: int = 4096) -> float:
    """Seconds per image the driver spends writing a shard and storing it in the cache."""
    import numpy as np
    import pyarrow.parquet  # noqa: F401  (imported before the clock starts, as on a driver mid-run)
    import torch  # noqa: F401

    from cliptagger.cluster.shards import MergeReport, batch_table, merge_shard_file, write_shard
    from cliptagger.core.tagging.cache import EmbeddingCache, file_stamp, path_key

    folder = work / "merge-files"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(rows):
        path = folder / f"{index}.jpg"
        path.write_bytes(b"x")
        files.append(path)
    cache = EmbeddingCache(work / "merge.sqlite3")
    report = MergeReport()
    started = time.perf_counter()
    for start in range(0, rows, batch_size):
        chunk = files[start:start + batch_size]
        stamps = [file_stamp(p) for p in chunk]
        batch = {"path": [path_key(p) for p in chunk], "size": [s[0] for s in stamps],
                 "mtime_ns": [s[1] for s in stamps], "inode": [s[2] for s in stamps],
                 "model_id": ["bench"] * len(chunk), "error": [""] * len(chunk),
                 "embedding": np.random.default_rng(0).standard_normal((len(chunk), dim)).astype(np.float32)}
        merge_shard_file(write_shard(work / "shards", batch_table(batch)), cache, "bench", report)
    return (time.perf_counter() - started) / rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--size", type=int, default=512, help="side of the generated JPEGs (px)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs given to the local Ray")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--node-rate", type=float, default=1500.0, help="assumed img/s of one GPU node")
    parser.add_argument("--nodes", default="1,4,16,64")
    args = parser.parse_args()

    from cliptagger.cluster.pipeline import connect
    from cliptagger.core.media.synthetic import write_demo_folder

    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as temp:
        work = Path(temp)
        os.environ["CLIPTAGGER_CACHE_DIR"] = str(work / "cache")
        paths = [p for p, _ in write_demo_folder(work / "photos", count=args.images, size=args.size)]
        started = time.perf_counter()
        connect("local", num_cpus=args.cpus)
        print(f"ray.init (local, {args.cpus} CPUs): {time.perf_counter() - started:.1f} s (once per job)")
        engine_s, ray_s, steady, ratios = [], [], [], []
        for round_ in range(args.repeats):
            engine = time_engine(paths, work, args.batch_size)
            whole, rate, first, first_s = time_ray(paths, work, args.batch_size)
            engine_s.append(engine)
            ray_s.append(whole)
            steady.append(rate)
            ratios.append(whole / engine)
            print(f"round {round_ + 1}: engine {args.images / engine:6.1f} img/s ({engine:.1f} s)   "
                  f"ray {args.images / whole:6.1f} img/s ({whole:.1f} s, the first {first} photos back after "
                  f"{first_s:.1f} s)   ratio {whole / engine:.2f}")
        engine_rate = args.images / statistics.median(engine_s)
        print(f"\n{args.images} photos of {args.size}px, demo model fp32, {args.cpus} CPUs:")
        print(f"  engine (one process)  {engine_rate:6.1f} img/s")
        print(f"  ray local, whole call {args.images / statistics.median(ray_s):6.1f} img/s   "
              f"overhead ratio ray/engine {statistics.median(ratios):.2f} (rounds: "
              f"{', '.join(f'{r:.2f}' for r in ratios)})")
        print(f"  ray local, after the first shard {statistics.median(steady):6.1f} img/s (flattering: "
              "batches decoded while the actor started arrive in a burst)")
        from cliptagger.cluster.runner import MAX_SHARD_ROWS

        print()
        for rows in (args.batch_size, MAX_SHARD_ROWS):
            per_image = merge_cost(work / f"merge-{rows}", rows, dim=512)
            ceiling = 1 / per_image
            print(f"driver merge, {rows} rows per shard (shard file + cache store, dim 512): "
                  f"{per_image * 1e6:.0f} us/img = at most {ceiling:,.0f} img/s whatever the cluster")
        print(f"\n10 million photos at {args.node_rate:g} img/s per GPU node (assumed, not measured here):")
        for nodes in (int(n) for n in args.nodes.split(",")):
            rate = min(nodes * args.node_rate, ceiling)
            limit = " (driver merge bound)" if rate < nodes * args.node_rate else ""
            print(f"  {nodes:3d} nodes: {10_000_000 / rate / 3600:6.1f} h{limit}")
        import ray

        ray.shutdown()


if __name__ == "__main__":
    main()
