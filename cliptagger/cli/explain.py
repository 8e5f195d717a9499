"""``cliptagger explain``: why this tag, a heatmap of where one label's score comes from."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

from cliptagger.cli.exits import EXIT_NOTHING_TAGGED, EXIT_OK, EXIT_SETUP
from cliptagger.cli.output import say
from cliptagger.cli.session_setup import add_model_arguments, load_label_files, load_model_from_args

DETAILS = ("auto", "1", "2", "3", "4")


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    explain = commands.add_parser("explain", help="why this tag: a heatmap of the regions that raise a label's score")
    explain.add_argument("photo", type=Path, help="one image file")
    explain.add_argument("--label", required=True, metavar="SET/LABEL",
                         help='the label to explain, as "Set/label" (e.g. "Shape/circle")')
    explain.add_argument("--out", type=Path, metavar="FILE.png", help="write the photo with the heatmap over it (PNG)")
    explain.add_argument("--json", action="store_true", help="print the heatmap grid as JSON")
    explain.add_argument("--labels", action="append", type=Path, metavar="FILE",
                         help="label set file (JSON); repeat for several; default: the bundled ones for the model")
    explain.add_argument("--method", choices=("gradient", "value"), default="gradient",
                         help="gradient: Grad-ECLIP, explains the score itself (default); "
                              "value: MaskCLIP, forward only")
    explain.add_argument("--detail", choices=DETAILS, default="auto",
                         help="run the model on a picture this many times its input size for a finer grid "
                              "(auto: only for models whose grid is coarser than 7x7, e.g. the demo model)")
    explain.add_argument("--cosine", action="store_true",
                         help="explain the plain cosine with the label's prompts, not its lead over the "
                              "set's other labels (or the neutral caption)")
    add_model_arguments(explain)
    explain.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cliptagger.core.errors import ImageDecodeError
    from cliptagger.core.media.images import load_rgb
    from cliptagger.core.tagging.explain import explain_picture, find_label, label_direction

    if args.out is None and not args.json:
        say("give --out FILE.png for a picture, or --json for the grid.")
        return EXIT_SETUP
    if args.out is not None and not _safe_output(args.out, args.photo):
        return EXIT_SETUP
    label_sets = load_label_files(args.labels, args.model)
    label_set, index = find_label(label_sets, args.label)  # an unknown label fails before the model loads
    try:
        picture = load_rgb(args.photo)
    except ImageDecodeError as err:
        say(f"{args.photo}: {err}")
        return EXIT_NOTHING_TAGGED
    model = load_model_from_args(args, quiet=True)
    direction = label_direction(model, label_set, index, contrast=not args.cosine)
    label = f"{label_set.name}/{label_set.labels[index].keyword}"
    detail = args.detail if args.detail == "auto" else int(args.detail)
    heatmap = explain_picture(model, picture, direction, label, args.method, detail)
    if args.out is not None:
        _write_png(args.out, picture, heatmap)
        say(f"wrote {args.out} ({heatmap.rows}x{heatmap.columns} grid, {args.method}, score {heatmap.score:+.4f})")
    if args.json:
        print(json.dumps({"photo": str(args.photo), **heatmap.to_dict()}, ensure_ascii=False))
    return EXIT_OK


def _safe_output(out: Path, photo: Path) -> bool:
    """Only a new or existing .png that is not the photo itself: a typo must not replace a photo."""
    if out.suffix.lower() != ".png":
        say(f"--out {out}: the heatmap is a PNG picture; give a file name ending in .png")
        return False
    try:
        same = out.exists() and photo.exists() and out.resolve() == photo.resolve()
    except OSError:
        same = False
    if same:
        say(f"--out {out} is the photo itself; give another file name")
        return False
    if not out.parent.is_dir():
        say(f"--out {out}: the folder {out.parent} does not exist")
        return False
    return True


def _write_png(out: Path, picture: Any, heatmap: Any) -> None:
    from cliptagger.core.media.heat_overlay import overlay
    from cliptagger.core.storage.fileio import atomic_write_bytes

    buffer = io.BytesIO()
    overlay(picture, heatmap.grid, heatmap.crop).save(buffer, format="PNG")
    atomic_write_bytes(out, buffer.getvalue())
