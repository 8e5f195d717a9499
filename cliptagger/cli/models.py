"""``cliptagger models``: the catalog with published accuracy and the speed measured here,
what is downloaded, the CPU precision measured."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cliptagger.cli.exits import EXIT_OK
from cliptagger.cli.output import say
from cliptagger.core.errors import CliptaggerError
from cliptagger.core.model.catalog import CATALOG, DEFAULT_KEY, DEMO_KEY
from cliptagger.core.storage import paths


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    models = commands.add_parser("models", help="list the models cliptagger knows, their accuracy and speed here")
    models.add_argument("--json", action="store_true")
    models.add_argument("--measure", action="store_true",
                        help="time every catalog model's image encoder on this computer (random weights, "
                             "nothing is downloaded; a few minutes) and keep the figures")
    models.set_defaults(func=run)


def _available(entry: Any) -> bool:
    from cliptagger.core.model.weights import cached_weights, demo_checkpoint

    if entry.key == DEMO_KEY:
        return demo_checkpoint().is_file()
    try:
        return cached_weights(entry.arch, entry.pretrained) is not None
    except CliptaggerError:
        return False


def run(args: argparse.Namespace) -> int:
    from cliptagger.core.model.precision import cached_choices
    from cliptagger.core.model.speed import measure_and_store, measured_speed

    if args.measure:
        archs = [e.arch for e in CATALOG if e.key != DEMO_KEY]
        say(f"Timing {len(archs)} image encoders on this CPU, in interleaved rounds (random weights)...")
        measure_and_store(archs, progress=lambda text: say(f"  {text}"))
    rows = []
    for entry in CATALOG:
        measured = cached_choices(entry.arch)  # the CPU precision probe's last result, if any
        rows.append({"model": entry.key, "pretrained": entry.pretrained or "(bundled)",
                     "download_mb": entry.download_mb, "downloaded": _available(entry), "good_for": entry.good_for,
                     "imagenet_percent": entry.imagenet, "xm3600_r1_percent": entry.xm3600_r1,
                     "multilingual": entry.multilingual, "img_per_s_measured": measured_speed(entry.arch),
                     "default": entry.key == DEFAULT_KEY,
                     "cpu_precision": measured[-1].describe() if measured else None})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(f"  {'model':<14} {'ImageNet':>8} {'36 lang.':>8} {'img/s here':>10} {'download':>9}  notes")
    for row in rows:
        mark = "*" if row["downloaded"] else " "
        size = f"{row['download_mb']} MB" if row["download_mb"] else "bundled"
        imagenet = f"{row['imagenet_percent']:.1f}%" if row["imagenet_percent"] else "-"
        languages = f"{row['xm3600_r1_percent']:.1f}%" if row["xm3600_r1_percent"] else "-"
        speed = f"{row['img_per_s_measured']:.1f}" if row["img_per_s_measured"] else "?"
        print(f"{mark} {row['model']:<14} {imagenet:>8} {languages:>8} {speed:>10} {size:>9}  {row['good_for']}")
        if row["cpu_precision"]:
            print(f"  {'':<14} CPU precision: {row['cpu_precision']}")
    print(f"\n* = on this computer. Weights are kept in {paths.weights_dir()}\n"
          "ImageNet: published zero-shot top-1. 36 lang.: published Crossmodal-3600 image retrieval R@1, "
          "averaged over 36 languages (multilingual models only).\n"
          "img/s here: the image encoder timed on this CPU" +
          (" (? = not measured yet: cliptagger models --measure)." if any(r["img_per_s_measured"] is None
                                                                            for r in rows if r["download_mb"])
           else "."))
    return EXIT_OK
