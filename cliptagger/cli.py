"""The headless front end: ``cliptagger tag``, ``learn``, ``models``, ``demo`` (and ``undo`` for XMP).

Exit codes: 0 something was tagged; 1 nothing could be tagged; 2 a usage or setup
problem (bad label file, model weights missing, ...); 3 tagged, but at least one sidecar
could not be written (each is named on stderr, none was changed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from cliptagger import __version__
from cliptagger.core.errors import CliptaggerError
from cliptagger.core.metadata.export import ExportFormat
from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.model.catalog import CATALOG, DEFAULT_KEY, DEMO_KEY
from cliptagger.core.model.device import DEVICE_CHOICES
from cliptagger.core.model.precision import PRECISIONS, Precision
from cliptagger.core.storage import paths
from cliptagger.progress import ProgressBar

if TYPE_CHECKING:
    from cliptagger.core.model.clip import ClipModel
    from cliptagger.core.session.facade import Session
    from cliptagger.core.tagging.engine import ImageFailure, ImageResult

EXIT_OK, EXIT_NOTHING_TAGGED, EXIT_SETUP, EXIT_SIDECARS_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def default_labels_file(model_key: str) -> Path:
    name = "demo.json" if model_key.casefold() == DEMO_KEY else "photo-basics.json"
    return paths.resources_dir() / "labels" / name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cliptagger", description="Zero-shot photo tagging with CLIP.")
    parser.add_argument("--version", action="version", version=f"cliptagger {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    tag = commands.add_parser("tag", help="propose tags for images and folders")
    tag.add_argument("paths", nargs="+", type=Path, help="image files and folders (searched recursively)")
    tag.add_argument("--labels", action="append", type=Path, metavar="FILE",
                     help="label set file (JSON); repeat for several; default: the bundled photo basics")
    add_model_arguments(tag)
    tag.add_argument("--batch-size", type=int, default=None, metavar="N",
                     help="images per encoder batch (default 16 on CPU, 64 on CUDA)")
    tag.add_argument("--exact", action="store_true",
                     help="decode every image at full size (the reference path; slower, same tags)")
    tag.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    tag.add_argument("--write-xmp", action="store_true",
                     help="merge the proposed tags into XMP sidecars (undo with `cliptagger undo`)")
    tag.add_argument("--sidecar-style", choices=[s.value for s in SidecarStyle], default="ext",
                     help="name of new sidecars: IMG.ext.xmp (ext, default) or IMG.xmp (adobe)")
    tag.add_argument("--csv", type=Path, metavar="OUT", help="also write the results to a CSV file")
    tag.add_argument("--csv-format", choices=[f.value for f in ExportFormat], default=ExportFormat.SCORES.value,
                     help="scores: one column per label probability; "
                          "exiftool: keywords for `exiftool -csv+=` (adds to the photos' own)")
    tag.add_argument("--json", action="store_true", help="print one JSON object per image (JSON Lines)")
    tag.add_argument("--dry-run", action="store_true", help="show what would be written, change no file")
    tag.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    models = commands.add_parser("models", help="list the models cliptagger knows and which are downloaded")
    models.add_argument("--json", action="store_true")

    undo = commands.add_parser("undo", help="take back the last batch of sidecar writes")
    undo.add_argument("--force", action="store_true",
                      help="also take cliptagger's keywords out of sidecars changed since it wrote them "
                           "(the changes made since are kept)")
    undo.add_argument("--list", action="store_true", help="list the batches that can be undone")

    cache = commands.add_parser("cache", help="the embedding cache: where it is, prune it, clear it")
    cache.add_argument("action", choices=["info", "prune", "clear"], nargs="?", default="info",
                       help="prune: forget moved, deleted or changed files; clear: delete the cache")

    add_learn_parser(commands)
    tag.add_argument("--zero-shot", action="store_true",
                     help="ignore the heads learned from your decisions and keywords (`cliptagger learn`)")

    demo = commands.add_parser("demo", help="generate a folder of test pictures and tag it with the demo model")
    demo.add_argument("folder", nargs="?", type=Path, default=Path("demo-photos"))
    demo.add_argument("--count", type=int, default=24)
    add_search_parser(commands)
    return parser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_KEY,
                        help=f"model name (default {DEFAULT_KEY}; 'demo' is the bundled offline model; "
                             "any open_clip architecture works)")
    parser.add_argument("--pretrained", default="", metavar="TAG", help="open_clip pretrained tag")
    parser.add_argument("--checkpoint", type=Path, metavar="FILE", help="local weights file for --model")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--no-download", action="store_true", help="never download weights")
    parser.add_argument("--precision", choices=list(PRECISIONS), default=Precision.AUTO.value,
                        help="auto: fp16 on CUDA, bf16 on CPUs with native bf16, else fp32")


def pass_file_names_through() -> None:
    """Print file names that are not valid UTF-8 as their original bytes, on both streams.

    Python's stdout is strict under a UTF-8 locale: one such name ended a run with
    UnicodeEncodeError (and stderr escaped the same name differently)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")


def main(argv: Optional[Sequence[str]] = None) -> int:
    pass_file_names_through()
    args = build_parser().parse_args(argv)
    try:
        if args.command == "tag":
            return command_tag(args)
        if args.command == "models":
            return command_models(args)
        if args.command == "demo":
            return command_demo(args)
        if args.command == "undo":
            return command_undo(args)
        if args.command == "cache":
            return command_cache(args)
        if args.command == "search":
            return command_search(args)
        if args.command == "learn":
            return command_learn(args)
    except CliptaggerError as err:
        print(f"cliptagger: {err}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print("\ncliptagger: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_SETUP


def load_model_from_args(args: argparse.Namespace, quiet: bool = False) -> "ClipModel":
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for

    request = request_for(args.model, args.pretrained, args.checkpoint)
    bar = ProgressBar(enabled=None if not quiet else False)

    def on_download(done: int, total: Optional[int]) -> None:
        if total:
            bar.update(min(done, total), total, 0.0, None)

    try:
        return load_model(request, device=args.device, allow_download=not args.no_download,
                          download_progress=on_download, precision=args.precision)
    finally:
        bar.close()


def command_tag(args: argparse.Namespace) -> int:
    from cliptagger.core.session.facade import EngineOptions, Session
    from cliptagger.core.tagging.engine import ImageFailure

    label_sets = load_label_files(args.labels, args.model)
    images = find_images(args.paths)
    if not images:
        return EXIT_NOTHING_TAGGED

    session = Session(label_sets, EngineOptions(batch_size=args.batch_size, fast_decode=not args.exact,
                                                use_cache=not args.no_cache,
                                                use_learned=not args.zero_shot))
    session.use_model(load_model_from_args(args, quiet=args.quiet))
    session.cache()
    print_warnings(session)
    bar = ProgressBar(enabled=False if args.quiet else None)
    tagged, failures = 0, []
    try:
        for outcome in session.tag(
            images,
            progress=lambda p: bar.update(p.done, p.total, p.images_per_s, p.eta_s, p.failed),
            cancel=threading.Event(),
        ):
            bar.clear()
            if isinstance(outcome, ImageFailure):
                failures.append(outcome)
                if args.json:
                    print(json.dumps({"path": str(outcome.path), "status": "error", "reason": outcome.reason}))
                continue
            tagged += 1
            print(format_result_json(outcome) if args.json else format_result_line(outcome), flush=True)
    finally:
        bar.close()

    # The CLI has no review step: every proposal above its set's threshold is accepted.
    # Tags written to sidecars are the user's decision: they are kept as examples to learn from.
    session.accept_above_threshold(record=args.write_xmp and not args.dry_run)
    print_warnings(session)
    sidecars_failed = False
    if args.write_xmp or args.dry_run:
        sidecars_failed = write_xmp(args, session)
    if args.csv:
        write_csv(args, session)
    report_failures(failures)
    print(f"cliptagger: tagged {tagged} of {len(images)} images"
          + (f", skipped {len(failures)}" if failures else "") + ".", file=sys.stderr)
    print_warnings(session)  # e.g. the cache turned itself off mid-run
    if not tagged:
        return EXIT_NOTHING_TAGGED
    return EXIT_SIDECARS_FAILED if sidecars_failed else EXIT_OK


def find_images(paths: Sequence[Path]) -> list[Path]:
    """The supported images under ``paths``; every file skipped is reported with its reason."""
    from cliptagger.core.media.scan import scan

    found = scan(paths)
    for path, reason in found.problems:
        print(f"cliptagger: {path}: {reason}", file=sys.stderr)
    if not found.images:
        print("cliptagger: no supported images found.", file=sys.stderr)
    return found.images


def print_warnings(session: "Session") -> None:
    for warning in session.take_warnings():
        print(f"cliptagger: warning: {warning}", file=sys.stderr)


def load_label_files(files: Optional[Sequence[Path]], model_key: str) -> list:
    from cliptagger.core.tagging.labels import load_label_sets

    label_sets = [s for f in (files or [default_labels_file(model_key)]) for s in load_label_sets(f)]
    names = [s.name.casefold() for s in label_sets]
    if len(set(names)) != len(names):
        raise CliptaggerError("Two label sets have the same name; rename one of them.")
    return label_sets


def write_csv(args: argparse.Namespace, session: "Session") -> None:
    from cliptagger.core.metadata.export import ExportFormat
    from cliptagger.core.session.facade import SessionError

    if args.dry_run:
        print(f"cliptagger: dry run, {args.csv} not written", file=sys.stderr)
        return
    try:
        report = session.export(args.csv, ExportFormat(args.csv_format))
    except (SessionError, CliptaggerError, OSError) as err:
        print(f"cliptagger: {args.csv} not written: {err}", file=sys.stderr)
        return
    if report.command:
        print(f"cliptagger: wrote {args.csv}; apply it with:\n  {report.command}\n"
              "  (it adds the keywords to each photo's own; exiftool keeps a NAME_original backup of each "
              "photo it changes: add -overwrite_original to skip that)", file=sys.stderr)
    elif report.nothing_to_apply:
        print(f"cliptagger: wrote {args.csv}: nothing to apply, the photos already have these keywords",
              file=sys.stderr)
    else:
        print(f"cliptagger: wrote {args.csv}", file=sys.stderr)


def write_xmp(args: argparse.Namespace, session: "Session") -> bool:
    """Write (or show) the sidecars; True when any of them could not be written."""
    report = session.write(SidecarStyle(args.sidecar_style), dry_run=args.dry_run,
                           description=f"cliptagger tag {' '.join(str(p) for p in args.paths)}")
    for warning in report.warnings:
        print(f"cliptagger: warning: {warning}", file=sys.stderr)
    verb = "would write" if args.dry_run else "wrote"
    for path in report.written:
        change = report.changes.get(path)
        what = ", ".join([f"+{k}" for k in change.added] + [f"-{k}" for k in change.removed]) if change else ""
        print(f"cliptagger: {verb} {path}" + (f": {what}" if what else ""), file=sys.stderr)
    for path, reason in report.failed:
        print(f"cliptagger: sidecar not written: {path}: {reason}", file=sys.stderr)
    print(f"cliptagger: sidecars: {len(report.written)} {verb}, {len(report.unchanged)} already up to date, "
          f"{len(report.failed)} failed" + ("" if args.dry_run or not report.written else
                                             " (undo with `cliptagger undo`)") + ".", file=sys.stderr)
    return bool(report.failed)


def command_cache(args: argparse.Namespace) -> int:
    from cliptagger.core.tagging.cache import EmbeddingCache, default_cache_path

    location = default_cache_path()
    if args.action == "clear":
        removed = 0
        for suffix in ("", "-wal", "-shm"):
            target = Path(str(location) + suffix)
            if target.exists():
                target.unlink()
                removed += 1
        print(f"cleared {location}" if removed else f"no cache at {location}")
        return EXIT_OK
    cache = EmbeddingCache(location)
    for warning in cache.warnings:
        print(f"cliptagger: warning: {warning}", file=sys.stderr)
    if args.action == "prune":
        print(f"pruned {cache.prune()} stale entries; {cache.count()} remain in {location}")
    else:
        size = location.stat().st_size if location.exists() else 0
        print(f"{cache.count()} embeddings, {size / 2**20:.1f} MiB, in {location}")
    cache.close()
    return EXIT_OK


def command_undo(args: argparse.Namespace) -> int:
    from cliptagger.core.metadata.journal import (
        describe,
        held_batches,
        list_batches,
        undo_last_batch,
    )

    if args.list:
        batches = sorted(list_batches() + held_batches(), key=lambda b: b.name)
        for batch in batches:
            print(describe(batch))
        if not batches:
            print("nothing to undo")
        return EXIT_OK
    report = undo_last_batch(force=args.force)
    if report.batch is None:
        held = held_batches()
        print("cliptagger: nothing to undo" + (f"; {len(held)} batch(es) changed since cliptagger wrote them: "
              "`cliptagger undo --force` removes only cliptagger's keywords from them" if held else ""),
              file=sys.stderr)
        return EXIT_NOTHING_TAGGED
    for path in report.restored:
        print(f"restored {path}")
    for path in report.removed:
        print(f"removed {path}")
    for path in report.merged:
        print(f"removed cliptagger's keywords from {path} (changed since; the other changes stay)")
    for path, reason in report.skipped:
        print(f"cliptagger: not undone: {path}: {reason}", file=sys.stderr)
    if report.skipped and not args.force:
        print("cliptagger: run `cliptagger undo --force` to take cliptagger's keywords out of those too "
              "(the changes made since stay); `cliptagger undo` goes on with older batches", file=sys.stderr)
    return EXIT_OK


def add_learn_parser(commands: "argparse._SubParsersAction") -> None:
    learn = commands.add_parser(
        "learn", help="learn your own keywords from the photos that have them (sidecars and embedded XMP)",
        description="Every keyword on at least N photos becomes a learned label of the set 'My keywords'; "
                    "`cliptagger tag` then proposes it on the photos that do not have it yet.")
    learn.add_argument("paths", nargs="*", type=Path, help="image files and folders (searched recursively)")
    learn.add_argument("--forget", action="append", default=[], metavar="SET/LABEL",
                       help="forget a label's recorded decisions (SET alone: every label of the set) for "
                            "this model and learn again; repeatable; no PATH needed")
    learn.add_argument("--min-examples", type=int, default=5, metavar="N",
                       help="a keyword needs at least N photos to become a label (default 5)")
    learn.add_argument("--report", action="store_true",
                       help="per label: examples, held-out accuracy of zero-shot and of the learned head")
    learn.add_argument("--target-precision", type=float, default=None, metavar="P",
                       help="calibrate each label's threshold for this precision (default 0.9)")
    learn.add_argument("--dry-run", action="store_true", help="show the keywords found, learn nothing")
    learn.add_argument("--labels", action="append", type=Path, metavar="FILE",
                       help="your label set files: their recorded decisions are learned too")
    add_model_arguments(learn)
    learn.add_argument("--batch-size", type=int, default=None, metavar="N")
    learn.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def command_learn(args: argparse.Namespace) -> int:
    from cliptagger.core.session.facade import MY_KEYWORDS, EngineOptions, Session

    label_sets = load_label_files(args.labels, args.model)
    if args.forget:
        return forget_examples(args, label_sets)
    if not args.paths:
        print("cliptagger learn: give image files or folders (or --forget SET/LABEL)", file=sys.stderr)
        return EXIT_SETUP
    images = find_images(args.paths)
    if not images:
        return EXIT_NOTHING_TAGGED
    session = Session(label_sets, EngineOptions(batch_size=args.batch_size))
    session.use_model(load_model_from_args(args, quiet=args.quiet))
    print_warnings(session)
    if args.target_precision is not None and session.learned is not None:
        session.learned.target_precision = args.target_precision
    bar = ProgressBar(enabled=False if args.quiet else None)
    try:
        report = session.learn_from_keywords(
            images, args.min_examples, add=not args.dry_run, cancel=threading.Event(),
            progress=lambda p: bar.update(p.done, p.total, p.images_per_s, p.eta_s, p.failed))
    finally:
        bar.close()
    print(f"read the keywords of {report.photos} photos: {report.photos_with_keywords} have keywords, "
          f"{len(report.counts)} different keywords")
    for keyword, count in sorted(report.counts.items(), key=lambda item: (-item[1], item[0].casefold())):
        mark = "+" if keyword in report.labels else " "
        print(f" {mark} {keyword}: {count} photo(s)")
    if not report.labels:
        print(f"cliptagger: no keyword is on {args.min_examples} or more photos; nothing learned "
              "(lower it with --min-examples)", file=sys.stderr)
        return EXIT_NOTHING_TAGGED
    if args.dry_run:
        print(f"dry run: {len(report.labels)} label(s) would be learned into '{MY_KEYWORDS}'")
        return EXIT_OK
    used = sum(s.used for s in report.stats)
    print(f"learned {len(report.labels)} label(s) into '{MY_KEYWORDS}'; {used} beat zero-shot on held-out "
          "photos and are used (the others stay zero-shot). `cliptagger tag` now proposes them.")
    if args.report:
        print_learning_report(session)
    return EXIT_OK


def forget_examples(args: argparse.Namespace, label_sets: list) -> int:
    """``learn --forget SET/LABEL``: the decisions recorded for that label (or set) go, and the
    heads are learned again from what is left."""
    from cliptagger.core.session.facade import EngineOptions, Session

    session = Session(label_sets, EngineOptions(batch_size=args.batch_size))
    session.use_model(load_model_from_args(args, quiet=args.quiet))
    print_warnings(session)
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


def format_result_line(result: "ImageResult") -> str:
    tags = ", ".join(f"{p.keyword} ({p.probability:.2f})" for p in result.proposals) or "(no tag above threshold)"
    return f"{result.path}: {tags}"


def format_result_json(result: "ImageResult") -> str:
    return json.dumps(
        {
            "path": str(result.path),
            "status": "tagged",
            "keywords": result.keywords,
            "scores": {
                s.label_set.name: {label.keyword: round(p, 6) for label, p in zip(s.label_set.labels, s.probabilities)}
                for s in result.scores
            },
        },
        ensure_ascii=False,
    )


def report_failures(failures: "list[ImageFailure]") -> None:
    if not failures:
        return
    print(f"cliptagger: skipped {len(failures)} file(s):", file=sys.stderr)
    for failure in failures:
        print(f"  {failure.path}: {failure.reason}", file=sys.stderr)


def command_models(args: argparse.Namespace) -> int:
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


def command_demo(args: argparse.Namespace) -> int:
    from cliptagger.core.media.synthetic import write_demo_folder

    written = write_demo_folder(args.folder, count=args.count)
    print(f"cliptagger: generated {len(written)} pictures in {args.folder}/ "
          "(file names tell the truth: colour-shape-background)", file=sys.stderr)
    return main(["tag", str(args.folder), "--model", DEMO_KEY, "--device", "cpu", "--quiet"])


def add_search_parser(commands: "argparse._SubParsersAction") -> None:
    search = commands.add_parser("search", help="find photos by text and by example (ranked, best first)")
    search.add_argument("query", help='what to look for, e.g. "a red kite over the sea" ("" with --like only)')
    search.add_argument("paths", nargs="+", type=Path, help="image files and folders (searched recursively)")
    search.add_argument("--like", action="append", type=Path, default=[], metavar="IMAGE",
                        help="photos whose look to find more of; repeat for several")
    search.add_argument("--not", dest="unlike", action="append", default=[], metavar="TEXT",
                        help="push photos that match this text down; repeat for several")
    search.add_argument("--top", type=int, default=20, metavar="K", help="show the K best (default 20; 0: all)")
    search.add_argument("--min-score", type=float, default=None, metavar="S",
                        help="show only photos scoring at least S (a cosine, -1 to 1)")
    search.add_argument("--json", action="store_true", help="one JSON object per photo (JSON Lines)")
    add_model_arguments(search)
    search.add_argument("--batch-size", type=int, default=None, metavar="N", help="images per encoder batch")
    search.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    search.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def command_search(args: argparse.Namespace) -> int:
    """Rank photos by a query; photos not in the cache yet are encoded first (progress bar)."""
    from cliptagger.core.session.facade import EngineOptions, Session
    from cliptagger.core.tagging.engine import ImageFailure
    from cliptagger.core.tagging.search import SearchError, SearchQuery

    query = SearchQuery(args.query, tuple(args.like), tuple(args.unlike))
    if query.is_empty:
        print("cliptagger: give a query text or --like IMAGE.", file=sys.stderr)
        return EXIT_SETUP
    for example in query.like:
        if not example.is_file():
            print(f"cliptagger: --like {example}: no such file", file=sys.stderr)
            return EXIT_SETUP
    images = find_images(args.paths)
    if not images:
        return EXIT_NOTHING_TAGGED
    session = Session(load_label_files(None, args.model),
                      EngineOptions(batch_size=args.batch_size, use_cache=not args.no_cache))
    session.use_model(load_model_from_args(args, quiet=args.quiet))
    bar = ProgressBar(enabled=False if args.quiet else None)
    try:
        hits = session.search(query, images, cancel=threading.Event(), top=args.top or None,
                              min_score=args.min_score,
                              progress=lambda p: bar.update(p.done, p.total, p.images_per_s, p.eta_s, p.failed))
    except SearchError as err:
        print(f"cliptagger: {err}", file=sys.stderr)
        return EXIT_SETUP
    finally:
        bar.close()
    for path, score in hits:
        print(json.dumps({"path": str(path), "score": round(score, 4)}, ensure_ascii=False) if args.json
              else f"{score:.4f}  {path}")
    report_failures([ImageFailure(p, reason) for p, reason in session.failures()])
    print(f"cliptagger: {len(hits)} of {len(images)} photos shown for {query.describe()}.", file=sys.stderr)
    return EXIT_OK if hits else EXIT_NOTHING_TAGGED


if __name__ == "__main__":
    sys.exit(main())
