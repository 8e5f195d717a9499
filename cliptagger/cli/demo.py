"""``cliptagger demo``: generate pictures whose names tell the truth, tag them with the demo model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cliptagger.cli.option_types import whole_number
from cliptagger.cli.output import say
from cliptagger.core.model.catalog import DEMO_KEY


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    demo = commands.add_parser("demo", help="generate a folder of test pictures and tag it with the demo model")
    demo.add_argument("folder", nargs="?", type=Path, default=Path("demo-photos"))
    demo.add_argument("--count", type=whole_number(1, 100_000), default=24)
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cliptagger.cli.app import main
    from cliptagger.core.media.synthetic import write_demo_folder

    written = write_demo_folder(args.folder, count=args.count)
    say(f"generated {len(written)} pictures in {args.folder}/ (file names tell the truth: colour-shape-background)")
    return main(["tag", str(args.folder), "--model", DEMO_KEY, "--device", "cpu", "--quiet"])
