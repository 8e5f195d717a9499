#!/usr/bin/env python3
"""Explain latency and quality measured side by side on this machine.

    python benchmarks/explain.py [--repeats 7] [--skip-vit]

Explain latency ("why this tag" heatmaps): for the bundled demo model (a ModifiedResNet)
and a ViT-B-32-sized model with random weights (speed does not depend on the values), one
photo's heatmap per method and detail against one ``encode_image`` forward of the same
picture at batch 1, fp32 (both include the model's preprocessing of the decoded picture). The timings alternate (forward, explain, forward, ...) and the
best of each is reported (as throughput.py does: a shared machine's load should not decide); the ratio is what
to read. The label's prototype is computed once, outside the timing (the GUI caches it).

Pointing game (``--pointing N``, quality, not speed): on N generated pictures the demo model
explains the true shape's label; a hit is the strongest cell's centre inside the shape's
bounding box. Per method, detail and score (contrast with the set / plain cosine), with the
rate a randomly chosen cell would score and the best any map could score on that grid.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _best_pair(first: Callable[[], Any], second: Callable[[], Any], repeats: int) -> tuple[float, float]:
    first(), second()  # warm up (allocations, oneDNN kernels)
    a, b = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        first()
        a.append(time.perf_counter() - started)
        started = time.perf_counter()
        second()
        b.append(time.perf_counter() - started)
    return min(a), min(b)


def explain_latency(clip: Any, name: str, repeats: int) -> None:
    import torch

    from cliptagger.core.media.synthetic import Scene, render
    from cliptagger.core.tagging.explain import choose_detail, explain_picture

    picture = render(Scene("star", "blue", "striped"), size=640, seed=5).crop((0, 0, 640, 480))
    pixels = clip.preprocess(picture)[None]
    with torch.inference_mode():
        width = int(clip.model.encode_image(pixels).shape[1])
    direction = torch.nn.functional.normalize(torch.randn(width, generator=torch.Generator().manual_seed(0)), dim=0)

    def forward() -> None:  # what tagging the decoded picture costs: preprocess + encode_image
        with torch.inference_mode():
            clip.model.encode_image(clip.preprocess(picture)[None])

    details = sorted({1, choose_detail(clip)})
    for detail in details:
        for method in ("gradient", "value"):
            base, explained = _best_pair(
                forward, lambda: explain_picture(clip, picture, direction, method=method, detail=detail), repeats)
            print(f"explain {name:<22} {method:<8} detail {detail} ({'auto' if detail == choose_detail(clip) else 'x'}): "
                  f"{explained * 1000:8.1f} ms/photo vs encode_image {base * 1000:7.1f} ms "
                  f"= {explained / base:5.2f}x one forward (preprocess + encode_image)")


def pointing_game(clip: Any, label_sets: Any, count: int, seed: int) -> None:
    from cliptagger.core.media.synthetic import SHAPES, random_scenes, render_with_box
    from cliptagger.core.tagging.explain import explain_picture, find_label, label_direction

    directions = {}
    for shape in SHAPES:
        label_set, index = find_label(label_sets, f"Shape/{shape}")
        for contrast in (True, False):
            directions[shape, contrast] = label_direction(clip, label_set, index, contrast)
    scenes = [render_with_box(scene, 256, render_seed) + (scene.shape,)
              for scene, render_seed in random_scenes(count, seed)]

    def inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
        return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]

    print(f"pointing game, demo model, {count} generated 256 px pictures (seed {seed}), Shape labels:")
    for detail in (1, 4):
        for method in ("gradient", "value"):
            for contrast in (True, False):
                hits = chance = best = 0.0
                for picture, box, shape in scenes:
                    heatmap = explain_picture(clip, picture, directions[shape, contrast], method=method, detail=detail)
                    hits += inside(heatmap.peak_point(), box)
                    side = 256 / heatmap.rows
                    covered = [inside(((c + 0.5) * side, (r + 0.5) * side), box)
                               for r in range(heatmap.rows) for c in range(heatmap.columns)]
                    chance += sum(covered) / len(covered)
                    best += any(covered)
                print(f"  grid {heatmap.rows}x{heatmap.columns} {method:<8} {'contrast' if contrast else 'cosine  '}: "
                      f"{hits / count:.3f}   (random cell {chance / count:.3f}, best possible {best / count:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-vit", action="store_true", help="only the demo model")
    parser.add_argument("--pointing", type=int, default=0, metavar="N", help="also play the pointing game on N pictures")
    parser.add_argument("--seed", type=int, default=11, help="of the pointing game's pictures")
    args = parser.parse_args()

    import torch

    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import ModelRequest, request_for

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32, batch 1; best of {args.repeats}")
    demo = load_model(request_for("demo"), device="cpu", precision="fp32")
    explain_latency(demo, "demo (ResNet, 64 px)", args.repeats)
    if not args.skip_vit:
        vit = load_model(ModelRequest("ViT-B-32", "openai"), device="cpu", random_weights=True, precision="fp32")
        explain_latency(vit, "ViT-B-32 (random)", args.repeats)
    if args.pointing:
        from cliptagger.core.tagging.labels import default_label_file, load_label_sets

        pointing_game(demo, load_label_sets(default_label_file("demo")), args.pointing, args.seed)


if __name__ == "__main__":
    main()
