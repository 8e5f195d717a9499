#!/usr/bin/env python3
"""Throughput of cliptagger's pipeline against the naive CLIP loop, measured side by side.

    python benchmarks/throughput.py [--corpus DIR] [--images 24] [--naive-images 8] [--repeats 3]
                                    [--retag-images 10000] [--rss-images 2000]

Same architecture for every step: ViT-B-32-256 with random weights (speed does not depend
on the values). Without --corpus, 24 camera-sized (12 MP, ~4000x3000) JPEGs with texture
and sensor grain are generated, so that they compress (and decode) like photos. Steps:

0. precision: what the load-time probe chose on this CPU and its figures; the encoder's
   img/s at each precision (batch 16, all cores);
1. decode: ms per image on one thread for each decoder (Pillow full decode, Pillow DCT
   draft as the engine does it, and the alternatives measured against it);
2. naive loop: CLIP's example code, one image at a time: Image.open, preprocess,
   encode_image in fp32 under no_grad;
3. cliptagger's engine with default settings and a cold embedding cache, and with the
   other thread plans for comparison; ceiling = cores / (decode + cores x encoder).
   Steps 2 and 3 run in --repeats interleaved rounds (naive, engine, encoder alone, naive,
   engine, ...): each round's engine figure is compared with that round's naive loop and
   with a ceiling from that round's encoder, so a burst of load from another program
   slows both sides of a ratio alike. The medians and the spread (min-max over rounds)
   are printed; a round whose engine beats its own ceiling is reported as noise.
4. re-tag from a warm cache: N cached images x a new label set of 100 labels x 10
   templates (text encoding and scoring reported separately);
5. peak RSS while tagging --rss-images images, above the loaded model's own footprint
   (measured in a child process; Linux).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARCH, TAG = "ViT-B-32-256", "datacomp_s34b_b86k"


# --------------------------------------------------------------------------- corpus


def _photo_like(args: tuple[Path, int, int]) -> Path:
    """Smooth light, textured surfaces, a few objects and sensor grain, ``megapixels`` MP."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    path, seed, megapixels = args
    rng = np.random.default_rng(seed)
    aspect = rng.choice([4 / 3, 3 / 2, 16 / 9])
    width = int((megapixels * 1e6 * aspect) ** 0.5)
    height = int(width / aspect) // 2 * 2
    width = width // 2 * 2
    small = (rng.random((height // 64 + 2, width // 64 + 2, 3)) * 255).astype(np.uint8)
    base = Image.fromarray(small).resize((width // 4, height // 4), Image.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(12):
        x, y = rng.integers(0, base.width), rng.integers(0, base.height)
        r = int(rng.integers(base.width // 30, base.width // 6))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x - r, y - r, x + r, y + r], fill=colour)
    base = base.filter(ImageFilter.GaussianBlur(2)).resize((width, height), Image.BICUBIC)
    pixels = np.asarray(base, dtype=np.int16)
    grain = rng.normal(0, 6, (height, width, 1)).astype(np.int16)
    texture = rng.normal(0, 10, (height // 2, width // 2, 3)).astype(np.int16).repeat(2, 0).repeat(2, 1)
    pixels = np.clip(pixels + grain + texture[:height, :width], 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def make_corpus(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder / f"IMG_{i:04d}.jpg", i, 12) for i in range(count)]  # 4000x3000 at 4:3
    with ProcessPoolExecutor(os.cpu_count() or 2) as pool:
        return list(pool.map(_photo_like, jobs))


# --------------------------------------------------------------------------- steps


def naive_loop(model, preprocess, paths: list[Path]) -> float:
    import torch
    from PIL import Image

    started = time.perf_counter()
    with torch.no_grad():
        for path in paths:
            image = preprocess(Image.open(path)).unsqueeze(0)
            model.encode_image(image)
    return len(paths) / (time.perf_counter() - started)


def engine_run(clip, paths: list[Path], cache_dir: Path, repeats: int, mode: str | None = None,
               run_name: str = "") -> tuple[float, str]:
    """(best img/s over ``repeats`` cold-cache runs, the thread plan used)."""
    from cliptagger.core.tagging.cache import EmbeddingCache
    from cliptagger.core.tagging.engine import ImageResult, TaggingEngine
    from cliptagger.core.tagging.labels import Label, LabelSet

    labels = [LabelSet("Scene", (Label("beach"), Label("forest"), Label("city")))]
    best, plan = 0.0, ""
    for attempt in range(repeats):
        engine = TaggingEngine(clip, labels, cache=EmbeddingCache(cache_dir / f"bench-{mode}-{run_name}{attempt}.sqlite3"))
        engine.thread_mode = mode
        started = time.perf_counter()
        outcomes = list(engine.run(paths))
        elapsed = time.perf_counter() - started
        assert all(isinstance(o, ImageResult) for o in outcomes)
        best = max(best, len(paths) / elapsed)
        p = engine.thread_plan
        plan = f"{p.mode}: {p.encoder_threads} encoder + {p.decode_workers} decode threads" + (
            f", decode nice {p.decode_niceness}" if p.decode_niceness is not None else "")
    return best, plan


def with_mpf_preview(source: Path, target: Path) -> Path:
    """``source`` re-saved as a camera writes it: plus a 1920-px "Large Thumbnail" MPF preview."""
    import io
    import struct

    from PIL import Image

    with Image.open(source) as opened:
        picture = opened.convert("RGB")
    scale = 1920 / max(picture.size)
    preview = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, "MPO", save_all=True, append_images=[preview], quality=90)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as written:
        entry = written.mpinfo[0xB002][1]
    undefined = struct.pack("<LLLHH", 0, entry["Size"], entry["DataOffset"], 0, 0)
    target.write_bytes(data.replace(undefined, struct.pack("<LLLHH", 0x010002, entry["Size"], entry["DataOffset"], 0, 0)))
    return target


def decoders(clip, paths: list[Path], repeats: int, mpf: list[Path]) -> dict[str, float]:
    """Seconds per image on one thread for each decoder (best of ``repeats``, interleaved).

    "engine" is what the engine's decode threads do per image: draft decode + preprocess.
    """
    import torch
    from PIL import Image

    from cliptagger.core.media.images import load_rgb
    from cliptagger.core.tagging.engine import DRAFT_FACTOR, TaggingEngine

    size = clip.image_size
    engine = TaggingEngine(clip, [])
    candidates = {
        "Pillow full decode": lambda p: load_rgb(p),
        f"Pillow DCT draft >= {DRAFT_FACTOR}x input (engine)": lambda p: load_rgb(p, draft_size=size * DRAFT_FACTOR),
        "Pillow DCT draft >= 1x input (fails fidelity)": lambda p: load_rgb(p, draft_size=size),
    }
    try:
        import simplejpeg

        def simple(path: Path, side: int) -> Image.Image:
            with open(path, "rb") as handle:
                data = handle.read()
            return Image.fromarray(simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=side, min_width=side))

        candidates[f"simplejpeg DCT-scaled >= {DRAFT_FACTOR}x input"] = lambda p: simple(p, size * DRAFT_FACTOR)
    except ImportError:
        pass
    candidates["engine decode + preprocess (ceiling's decode)"] = engine.load_pixels
    mpf_candidates = {"same photos with an MPF preview, engine decode": lambda p: load_rgb(p, draft_size=size * DRAFT_FACTOR),
                      "same photos with an MPF preview, + preprocess": engine.load_pixels}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    best = {name: float("inf") for name in candidates}
    try:
        for _ in range(repeats):
            for name, decode in list(candidates.items()) + list(mpf_candidates.items()):
                files = mpf if name in mpf_candidates else paths
                started = time.thread_time()  # CPU time: what the decode costs, not the machine's load
                for path in files:
                    decode(path)
                best[name] = min(best.get(name, float("inf")), (time.thread_time() - started) / len(files))
    finally:
        torch.set_num_threads(threads)
    return best


def interleaved_rounds(clip, naive_model, corpus: list[Path], naive_count: int, scratch: Path, rounds: int,
                       decode_s: float, cores: int) -> tuple[list[dict], str]:
    """Naive loop, engine and encoder alone, one after the other, ``rounds`` times (ABAB...)."""
    results, plan = [], ""
    for index in range(rounds):
        naive = naive_loop(naive_model, clip.preprocess, corpus[:naive_count])
        engine, plan = engine_run(clip, corpus, scratch, 1, run_name=f"round{index}-")
        encoder = encoder_rates({clip.precision: clip}, clip.image_size, 1)[clip.precision]
        ceiling = cores / (decode_s + cores / encoder)
        results.append({"naive": naive, "engine": engine, "encoder": encoder, "ceiling": ceiling})
    return results, plan


def _spread(values: list[float], unit: str = "") -> str:
    """``median (min-max)``."""
    import statistics

    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def encoder_rates(models: dict, size: int, repeats: int, batch: int = 16) -> dict[str, float]:
    """Encoder img/s per precision on pre-decoded batches, all cores (best of ``repeats``)."""
    import torch

    pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    rates = {}
    for precision, clip in models.items():
        clip.encode_pixels(pixels[:4])  # warm-up
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            clip.encode_pixels(pixels)
            best = min(best, time.perf_counter() - started)
        rates[precision] = batch / best
    return rates


def retag(clip, count: int, folder: Path) -> tuple[float, float]:
    """(seconds to build prototypes for 100 labels x 10 templates, seconds to score the cache)."""
    import torch

    from cliptagger.core.tagging.cache import EmbeddingCache
    from cliptagger.core.tagging.engine import ImageResult, TaggingEngine
    from cliptagger.core.tagging.labels import Label, LabelSet, Mode

    folder.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(folder / "retag.sqlite3")
    files = []
    for index in range(count):
        path = folder / f"{index:05d}.jpg"
        path.write_bytes(b"")
        files.append(path)
    dim = int(clip.model.text_projection.shape[1]) if getattr(clip.model, "text_projection", None) is not None else 512
    vectors = torch.nn.functional.normalize(torch.randn(count, dim), dim=-1)
    cache.store(zip(files, vectors), clip.model_id)
    templates = tuple(f"{prefix} {{}}." for prefix in (
        "a photo of a", "a picture of a", "a close-up of a", "a blurry photo of a", "a bright photo of a",
        "a dark photo of a", "a photo of the small", "a photo of the large", "an image of a", "a snapshot of a"))
    labels = LabelSet("Objects", tuple(Label(f"object number {i}") for i in range(100)), mode=Mode.INDEPENDENT,
                      templates=templates)
    started = time.perf_counter()
    engine = TaggingEngine(clip, [labels], cache=cache)
    prototypes = time.perf_counter() - started
    started = time.perf_counter()
    outcomes = list(engine.run(files))
    scoring = time.perf_counter() - started
    assert len(outcomes) == count and all(isinstance(o, ImageResult) for o in outcomes)
    assert engine.cache_hits == count
    return prototypes, scoring


RSS_CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from cliptagger.core.model.clip import load_model
from cliptagger.core.model.weights import ModelRequest
from cliptagger.core.tagging.engine import TaggingEngine, ImageResult
from cliptagger.core.tagging.labels import Label, LabelSet

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
clip = load_model(ModelRequest(sys.argv[2], sys.argv[3]), device="cpu", random_weights=True)
engine = TaggingEngine(clip, [LabelSet("S", (Label("a"), Label("b")))])
list(engine.run([Path(sys.argv[5])]))  # warm up allocator and threads
baseline = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to now
paths = [Path(p) for p in Path(sys.argv[4]).iterdir()]
started = time.perf_counter()
count = sum(isinstance(o, ImageResult) for o in engine.run(paths))
print(json.dumps({"baseline": baseline, "peak": status("VmHWM:"), "images": count,
                  "rate": count / (time.perf_counter() - started)}))
"""


def peak_rss(corpus: list[Path], count: int, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):  # hard links: distinct paths, no extra disk
        os.link(corpus[index % len(corpus)], folder / f"{index:05d}.jpg")
    done = subprocess.run([sys.executable, "-c", RSS_CHILD, str(ROOT), ARCH, TAG, str(folder), str(corpus[0])],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="folder of JPEGs (default: generate 12 MP photo-like ones)")
    parser.add_argument("--images", type=int, default=24, help="images generated / used for steps 1-3")
    parser.add_argument("--naive-images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--retag-images", type=int, default=10_000, help="0 skips the re-tag step")
    parser.add_argument("--rss-images", type=int, default=2000, help="0 skips the memory step")
    args = parser.parse_args()

    import torch

    from cliptagger.core.model import precision as precision_module
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import ModelRequest
    from cliptagger.core.tagging.threads import cpu_cores

    scratch = Path(tempfile.mkdtemp(prefix="cliptagger-bench-"))
    os.environ["CLIPTAGGER_CACHE_DIR"] = str(scratch / "cache")  # a cold probe cache: it measures
    try:
        if args.corpus:
            corpus = sorted(p for p in args.corpus.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))[: args.images]
        else:
            started = time.perf_counter()
            corpus = make_corpus(scratch / "corpus", args.images)
            print(f"generated {len(corpus)} photo-like JPEGs (12 MP) in {time.perf_counter() - started:.0f} s")
        megapixels = sum(_mp(p) for p in corpus) / len(corpus)
        megabytes = sum(p.stat().st_size for p in corpus) / len(corpus) / 1e6
        cores = cpu_cores()
        print(f"CPU: {_cpu_name()}; {cores} cores; torch {torch.__version__}")
        print(f"corpus: {len(corpus)} JPEGs, {megapixels:.1f} MP, {megabytes:.1f} MB on average")

        probe_seconds = []
        real_measure = precision_module.measure_rounds  # what choose_precision runs

        def timed_measure(*a, **k):
            started = time.perf_counter()
            try:
                return real_measure(*a, **k)
            finally:
                probe_seconds.append(time.perf_counter() - started)

        precision_module.measure_rounds = timed_measure
        torch.manual_seed(0)
        clip = load_model(ModelRequest(ARCH, TAG), device="cpu", random_weights=True)
        precision_module.measure_rounds = real_measure
        probe = f" in {probe_seconds[0] * 1000:.0f} ms" if probe_seconds else ""
        print(f"0. model {ARCH} (random weights). Precision chosen: {clip.precision_info}"
              f"{probe} (probe: batch {precision_module.PROBE_BATCH}, warm-up + {precision_module.PROBE_ROUNDS} interleaved rounds)")
        models = {clip.precision: clip}
        for other in precision_module.candidates("cpu"):
            if other not in models:
                torch.manual_seed(0)
                models[other] = load_model(ModelRequest(ARCH, TAG), device="cpu", random_weights=True, precision=other)
        encoder = encoder_rates(models, clip.image_size, args.repeats)
        print("   encoder, batch 16, all cores: " + ", ".join(f"{p} {r:.1f} img/s" for p, r in encoder.items())
              + (f"  (bf16 = {encoder['bf16'] / encoder['fp32']:.2f}x fp32)" if "bf16" in encoder else ""))

        (scratch / "mpf").mkdir()
        mpf = [with_mpf_preview(p, scratch / "mpf" / p.name) for p in corpus[:6]]
        decode = decoders(clip, corpus[: min(len(corpus), 12)], args.repeats, mpf)
        print("1. decode, one thread, CPU ms per image:")
        for name, seconds in decode.items():
            print(f"   {name:<48} {seconds * 1000:7.1f}")

        engine_decode = decode["engine decode + preprocess (ceiling's decode)"]
        rounds, plan = interleaved_rounds(clip, models["fp32"].model, corpus, args.naive_images, scratch,
                                          max(2, args.repeats), engine_decode, cores)
        naive = [r["naive"] for r in rounds]
        engine = [r["engine"] for r in rounds]
        print(f"2./3. {len(rounds)} interleaved rounds (naive, engine, encoder alone; median (min-max) over rounds):")
        print(f"   naive loop (open, preprocess, encode_image fp32, one at a time): {_spread(naive, ' img/s')}")
        print(f"   cliptagger engine, default settings, cold cache:                {_spread(engine, ' img/s')}  ({plan})")
        for mode in ("split", "shared"):
            other, other_plan = engine_run(clip, corpus, scratch, max(1, args.repeats - 1), mode)
            print(f"   for comparison, thread plan {other_plan:<52} {other:.2f} img/s")
        encode_wall = 1 / sorted(r["encoder"] for r in rounds)[len(rounds) // 2]
        ceilings = [r["ceiling"] for r in rounds]
        print(f"   ceiling = cores / (decode + cores x encoder) = {cores} / ({engine_decode * 1000:.1f} ms + "
              f"{cores} x {encode_wall * 1000:.1f} ms), per round: {_spread(ceilings, ' img/s')}")
        print(f"   ratio engine / naive, per round = {_spread([r['engine'] / r['naive'] for r in rounds], 'x')}")
        fractions = [r["engine"] / r["ceiling"] for r in rounds]
        print(f"   fraction engine / ceiling, per round = {_spread(fractions)}")
        noisy = sum(1 for f in fractions if f > 1.0)
        if noisy:
            print(f"   ({noisy} round(s) above 1: the machine's load changed within a round; noise, not a result)")
        if args.retag_images:
            prototypes, scoring = retag(clip, args.retag_images, scratch / "retag")
            print(f"4. re-tag {args.retag_images} cached images x 100 labels x 10 templates: "
                  f"scoring {scoring:.2f} s (target < 1 s); building the 1000 new text prototypes {prototypes:.2f} s")
        if args.rss_images:
            memory = peak_rss(corpus, args.rss_images, scratch / "rss")
            above = (memory["peak"] - memory["baseline"]) / 2**20
            print(f"5. peak RSS tagging {memory['images']} images: {above:.0f} MB above the loaded model's "
                  f"{memory['baseline'] / 2**20:.0f} MB (target <= 300 MB); {memory['rate']:.2f} img/s")
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"   benchmark process peak RSS {peak_self:.0f} MB")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _cpu_name() -> str:
    from cliptagger.core.model.precision import cpu_model

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    kinds = [f for f in ("avx512_bf16", "amx_bf16", "avx512f", "avx2") if f" {f}" in flags]
    return f"{cpu_model()} ({', '.join(kinds) or 'flags unknown'})"


def _mp(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as image:
        return image.width * image.height / 1e6


if __name__ == "__main__":
    sys.exit(main())
