"""``cliptagger models``: the catalog, what is downloaded, the CPU precision measured."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cliptagger.cli.exits import EXIT_OK
from cliptagger.core.errors import CliptaggerError
from cliptagger.core.model.catalog import CATALOG, DEMO_KEY
from cliptagger.core.storage import paths


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    models = commands.add_parser("models", help="list the models cliptagger knows and which are downloaded")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cliptagger.core.model.precision import cached_choices
    from cliptagger.core.model.weights import cached_weights, demo_checkpoint

    rows = []
    for entry in CATALOG:
        if entry.key == DEMO_KEY:
            available = demo_checkpoint().is_file()
        else:
            try:
                available = cached_weights(entry.arch, entry.pretrained) is not None
            except CliptaggerError:
                available = False
        measured = cached_choices(entry.arch)  # the CPU precision probe's last result, if any
        rows.append({"model": entry.key, "pretrained": entry.pretrained or "(bundled)",
                     "download_mb": entry.download_mb, "downloaded": available, "good_for": entry.good_for,
                     "cpu_precision": measured[-1].describe() if measured else None})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        mark = "*" if row["downloaded"] else " "
        size = f"{row['download_mb']} MB" if row["download_mb"] else "bundled"
        print(f"{mark} {row['model']:<14} {row['pretrained']:<22} {size:>8}  {row['good_for']}")
        if row["cpu_precision"]:
            print(f"  {'':<14} CPU precision: {row['cpu_precision']}")
    print(f"\n* = on this computer. Weights are kept in {paths.weights_dir()}")
    return EXIT_OK
