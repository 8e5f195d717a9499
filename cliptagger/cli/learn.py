"""``cliptagger learn``: the library's own keywords become learned labels; ``--forget``."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from cliptagger.cli.exits import EXIT_NOTHING_TAGGED, EXIT_OK, EXIT_SETUP
from cliptagger.cli.option_types import batch_size, number, whole_number
from cliptagger.cli.output import find_images, say
from cliptagger.cli.progress_bar import ProgressBar
from cliptagger.cli.session_setup import add_model_arguments, load_label_files, open_session
from cliptagger.core.tagging.head_scoring import TARGET_PRECISION_RANGE

if TYPE_CHECKING:
    from cliptagger.core.session import Session


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    learn = commands.add_parser(
        "learn", help="learn your own keywords from the photos that have them (sidecars and embedded XMP)",
        description="Every keyword on at least N photos becomes a learned label of the set 'My keywords'; "
                    "`cliptagger tag` then proposes it on the photos that do not have it yet.")
    learn.add_argument("paths", nargs="*", type=Path, help="image files and folders (searched recursively)")
    learn.add_argument("--forget", action="append", default=[], metavar="SET/LABEL",
                       help="forget a label's recorded decisions (SET alone: every label of the set) for "
                            "this model and learn again; repeatable; no PATH needed")
    learn.add_argument("--min-examples", type=whole_number(1), default=5, metavar="N",
                       help="a keyword needs at least N photos to become a label (default 5)")
    learn.add_argument("--report", action="store_true",
                       help="per label: examples, held-out accuracy of zero-shot and of the learned head")
    learn.add_argument("--target-precision", type=number(*TARGET_PRECISION_RANGE), default=None, metavar="P",
                       help="calibrate each label's threshold for this precision (default 0.9)")
    learn.add_argument("--dry-run", action="store_true", help="show the keywords found, learn nothing")
    learn.add_argument("--labels", action="append", type=Path, metavar="FILE",
                       help="your label set files: their recorded decisions are learned too")
    add_model_arguments(learn)
    learn.add_argument("--batch-size", type=batch_size, default=None, metavar="N")
    learn.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    learn.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cliptagger.core.session.keyword_learning import MY_KEYWORDS

    label_sets = load_label_files(args.labels, args.model)
    if args.forget:
        return forget_examples(args, label_sets)
    if not args.paths:
        print("cliptagger learn: give image files or folders (or --forget SET/LABEL)", file=sys.stderr)
        return EXIT_SETUP
    images = find_images(args.paths)
    if not images:
        return EXIT_NOTHING_TAGGED
    session = open_session(args, label_sets)
    if args.target_precision is not None and session.learned is not None:
        session.learned.target_precision = args.target_precision
    bar = ProgressBar(enabled=False if args.quiet else None)
    try:
        report = session.learn_from_keywords(images, args.min_examples, add=not args.dry_run,
                                             cancel=threading.Event(), progress=bar.callback())
    finally:
        bar.close()
    print(f"read the keywords of {report.photos} photos: {report.photos_with_keywords} have keywords, "
          f"{len(report.counts)} different keywords")
    for keyword, count in sorted(report.counts.items(), key=lambda item: (-item[1], item[0].casefold())):
        mark = "+" if keyword in report.labels else " "
        print(f" {mark} {keyword}: {count} photo(s)")
    for keyword, problem in sorted(report.left_out.items()):
        say(f"warning: the keyword {keyword!r} cannot be learned: {problem}")
    if not report.labels:
        say(f"no keyword is on {args.min_examples} or more photos; nothing learned (lower it with --min-examples)")
        return EXIT_NOTHING_TAGGED
    if args.dry_run:
        print(f"dry run: {len(report.labels)} label(s) would be learned into '{MY_KEYWORDS}'")
        return EXIT_OK
    used = sum(s.used for s in report.stats)
    kept = len(report.labels) - len(report.new_labels)
    earlier = f" ({len(report.new_labels)} new, {kept} kept from earlier runs)" if kept > 0 else ""
    print(f"learned {len(report.labels)} label(s) into '{MY_KEYWORDS}'{earlier}; {used} beat zero-shot on held-out "
          "photos and are used (the others stay zero-shot). `cliptagger tag` now proposes them.")
    if args.report:
        print_learning_report(session)
    return EXIT_OK


def forget_examples(args: argparse.Namespace, label_sets: list[Any]) -> int:
    """``learn --forget SET/LABEL``: the decisions recorded for that label (or set) go, and the
    heads are learned again from what is left."""
    session = open_session(args, label_sets)
    for target in args.forget:
        set_name, _, keyword = target.partition("/")
        removed = session.forget_examples(set_name, keyword or None)
        what = f"'{set_name}: {keyword}'" if keyword else f"every label of '{set_name}'"
        print(f"forgot {removed} decision(s) for {what}")
    if args.report:
        print_learning_report(session)
    return EXIT_OK


def print_learning_report(session: "Session") -> None:
    """Per label with examples: counts, held-out accuracy zero-shot vs learned, which is used."""
    learned = session.learned
    if learned is None:
        return

    def percent(value: Optional[float]) -> str:
        return "  -  " if value is None else f"{value:5.0%}"

    print(f"\n{'label':<32} {'examples':>10}  {'zero-shot':>9}  {'learned':>8}  used       threshold")
    for head in learned.heads.values():
        for stat in head.stats:
            if not stat.positives and not stat.negatives:
                continue
            name = f"{head.label_set}: {stat.keyword}"
            threshold = f"{stat.threshold:.3f}" if stat.threshold is not None else "(set's)"
            print(f"{name:<32} {stat.positives:>4} ✓ {stat.negatives:>3} ✗  {percent(stat.zero_shot_accuracy):>9}  "
                  f"{percent(stat.learned_accuracy):>8}  {'learned' if stat.used else 'zero-shot':<10} {threshold}")
