#!/usr/bin/env python3
"""Search: latency and memory of the exact fp16 search, and ranking quality with the demo model.

    python benchmarks/search.py [--sizes 10000 100000] [--dim 512] [--repeats 50]
                                [--pictures 240] [--copies 24] [--text-model ViT-B-32]

1. latency: ``SearchIndex.search`` (fp16 matrix, top 20) against the same product on a
   float32 matrix, side by side, for each size; plus ``Session.search`` end to end (a new
   query text each time: prompt expansion, text encoding with the demo model, ranking);
2. memory: the matrix's bytes and the process's RSS growth while building it;
3. the query text's encoding with a real-size text tower (random weights: speed does not
   depend on the values), which is what typing in the app costs per search;
4. quality, demo model on generated pictures: precision@5 of text queries (hits in the
   top five that match, over min(5, pictures that match)), and how often ``--like`` with a
   recompressed (JPEG q55), resized (70%) copy ranks the original first.
5. the app: UI-thread time to apply a search's results to the photo list, and to clear it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(function, repeats: int) -> float:
    """Median wall time in ms."""
    function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def latency(sizes: list[int], dim: int, repeats: int) -> None:
    import torch

    from cliptagger.core.tagging.search import SearchIndex

    print(f"\n== latency: exact search, {dim}-d embeddings, top 20, median of {repeats} "
          f"({torch.get_num_threads()} torch threads)")
    print(f"{'photos':>8} {'fp16 ms':>9} {'fp32 ms':>9} {'fp32/fp16':>10} {'matrix MiB':>11} {'RSS +MiB':>9}")
    generator = torch.Generator().manual_seed(0)
    for size in sizes:
        vectors = torch.nn.functional.normalize(torch.randn(size, dim, generator=generator), dim=-1)
        paths = [Path(f"/photos/{i:07d}.jpg") for i in range(size)]
        before = rss_mib()
        index = SearchIndex()
        for start in range(0, size, 10_000):
            index.put(zip(paths[start:start + 10_000], vectors[start:start + 10_000]))
        grown = rss_mib() - before
        query = torch.nn.functional.normalize(torch.randn(dim, generator=generator), dim=0)
        fp16 = timed(lambda: index.search(query, top=20), repeats)
        full = vectors.clone()
        fp32 = timed(lambda: torch.topk(full @ query, 20), repeats)
        assert [h.path for h in index.search(query, top=1)] == [paths[int(torch.argmax(full @ query))]]
        print(f"{size:>8} {fp16:>9.2f} {fp32:>9.2f} {fp32 / fp16:>9.1f}x {index.nbytes / 2**20:>11.1f} {grown:>9.1f}")


def end_to_end(size: int, repeats: int) -> None:
    import torch

    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for
    from cliptagger.core.session.facade import EngineOptions, Session
    from cliptagger.core.tagging.labels import load_label_sets
    from cliptagger.core.tagging.search import SearchQuery

    model = load_model(request_for("demo"), device="cpu", precision="fp32")
    session = Session(load_label_sets(ROOT / "resources/labels/demo.json"), EngineOptions(use_cache=False))
    session.use_model(model)
    paths = [Path(f"/photos/{i:07d}.jpg") for i in range(size)]
    session.add(paths)
    dim = int(model.encode_texts(["a photo."]).shape[1])
    vectors = torch.nn.functional.normalize(torch.randn(size, dim), dim=-1)
    session.searcher.state_for(session.engine).index.put(zip(paths, vectors))  # as if loaded from the cache
    words = iter(range(10**6))
    fresh = lambda: session.search(SearchQuery(f"a red circle number {next(words)}"), top=20)  # noqa: E731
    again = lambda: session.search(SearchQuery("a red circle"), top=20)  # noqa: E731
    print(f"\n== Session.search end to end, {size} photos in view, median of {repeats}:")
    print(f"same query again (its text embeddings remembered): {timed(again, repeats):.2f} ms")
    print(f"a new query text each time (+ the demo model's text tower): {timed(fresh, repeats):.2f} ms")


def text_encoding(arch: str, repeats: int) -> None:
    import torch

    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for
    from cliptagger.core.tagging.engine import PromptEmbeddingCache
    from cliptagger.core.tagging.search import query_prompts, text_prototype

    model = load_model(request_for(arch), device="cpu", random_weights=True, precision="fp32")
    words = iter(range(10**6))
    encode = lambda: text_prototype(PromptEmbeddingCache(model), f"a red kite over the sea {next(words)}")  # noqa: E731
    print(f"\n== query text encoding with {arch} (fp32, {len(query_prompts('x'))} prompts, random weights), median:")
    default = torch.get_num_threads()
    for threads in sorted({1, default}):
        torch.set_num_threads(threads)
        print(f"{threads} torch thread(s): {timed(encode, max(5, repeats // 5)):.1f} ms")
    torch.set_num_threads(default)


def ui_apply(sizes: list[int]) -> None:
    """UI-thread time to show a search's results in the app's list, and to clear it."""
    import random

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication, QMainWindow

    from cliptagger.core.session.facade import Session
    from cliptagger.core.tagging.labels import Label, LabelSet
    from cliptagger.gui.controllers.search import SearchController
    from cliptagger.gui.widgets.image_list import ImageListModel, ImageSortModel
    from cliptagger.gui.widgets.photo_table import build_photo_table
    from cliptagger.gui.workers.search import MAX_SHOWN

    app = QApplication.instance() or QApplication([])
    print(f"\n== app: UI-thread time to show a search's results (best {MAX_SHOWN}) and to clear it")
    for size in sizes:
        session = Session([LabelSet("S", (Label("a"), Label("b")))])
        images = ImageListModel(session)
        proxy = ImageSortModel(images)
        table = build_photo_table(proxy, 64)
        window = QMainWindow()
        search = SearchController(window, session, images, proxy, table)
        window.setCentralWidget(search.widget)
        window.resize(1000, 700)
        window.show()
        images.add_paths([Path(f"/photos/{i:07d}.jpg") for i in range(size)])
        app.processEvents()
        scores = {path: random.random() for path in images.paths}
        shown = set(sorted(scores, key=scores.get)[-MAX_SHOWN:])
        started = time.perf_counter()
        search._show(scores, shown)
        app.processEvents()
        applied = time.perf_counter()
        search._show(None)
        app.processEvents()
        print(f"{size:>8} photos: show {1000 * (applied - started):.0f} ms, clear {1000 * (time.perf_counter() - applied):.0f} ms")
        search.shutdown()
        window.close()


def quality(pictures: int, copies: int) -> None:
    from PIL import Image

    from cliptagger.core.media.synthetic import COLOURS, SHAPES, write_demo_folder
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for
    from cliptagger.core.session.facade import EngineOptions, Session
    from cliptagger.core.tagging.labels import load_label_sets
    from cliptagger.core.tagging.search import SearchQuery

    model = load_model(request_for("demo"), device="cpu", precision="fp32")
    with tempfile.TemporaryDirectory() as tmp:
        written = write_demo_folder(Path(tmp) / "photos", count=pictures, seed=515151)
        paths = [p for p, _ in written]
        session = Session(load_label_sets(ROOT / "resources/labels/demo.json"), EngineOptions(use_cache=False))
        session.use_model(model)

        def wanted(colour=None, shape=None) -> set[Path]:
            return {p for p, s in written if (colour in (None, s.colour)) and (shape in (None, s.shape))}

        queries = [(f"a {c} {s}", c, s) for c in COLOURS for s in SHAPES]
        queries += [(f"a {s}", None, s) for s in SHAPES] + [(f"something {c}", c, None) for c in COLOURS]
        results = {}
        for text, colour, shape in queries:
            relevant = wanted(colour, shape)
            if not relevant:
                continue
            top = [h.path for h in session.search(SearchQuery(text), paths, top=5)]
            results[text] = sum(p in relevant for p in top) / min(5, len(relevant))
        both = [v for k, v in results.items() if k.count(" ") == 2]
        single = [v for k, v in results.items() if k.count(" ") == 1]
        print(f"\n== quality, demo model, {pictures} generated pictures")
        print(f"text queries, colour + shape ({len(both)}, e.g. 'a red circle'): mean precision@5 "
              f"{statistics.mean(both):.3f}, worst {min(both):.2f}")
        print(f"text queries, one attribute ({len(single)}, e.g. 'a circle', 'something red'): mean precision@5 "
              f"{statistics.mean(single):.3f}, worst {min(single):.2f}")
        print(f"'a red circle': {results.get('a red circle', float('nan')):.2f}")
        firsts = 0
        for original in paths[:copies]:
            copy = Path(tmp) / f"copy-{original.name}"
            with Image.open(original) as image:
                small = image.convert("RGB")
                small.resize((int(small.width * 0.7), int(small.height * 0.7)), Image.LANCZOS).save(copy, quality=55)
            firsts += session.search(SearchQuery(like=(copy,)), paths, top=1)[0].path == original
        print(f"--like with a recompressed (q55), resized (70%) copy: original ranked first for "
              f"{firsts} of {copies} ({firsts / copies:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=512, help="embedding size (ViT-B: 512, ViT-L: 768)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--pictures", type=int, default=240)
    parser.add_argument("--copies", type=int, default=24)
    parser.add_argument("--text-model", default="ViT-B-32", help="'' to skip the real-size text encoding")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    latency(args.sizes, args.dim, args.repeats)
    end_to_end(max(args.sizes), args.repeats)
    if args.text_model:
        text_encoding(args.text_model, args.repeats)
    quality(args.pictures, args.copies)
    ui_apply([1000, *args.sizes])


if __name__ == "__main__":
    main()
