"""``cliptagger tag``: propose tags, accept those above threshold, write sidecars and CSVs."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cliptagger.cli.exits import EXIT_NOTHING_TAGGED, EXIT_OK, EXIT_SIDECARS_FAILED
from cliptagger.cli.option_types import batch_size, whole_number
from cliptagger.cli.output import (
    find_images,
    format_result_json,
    format_result_line,
    one_line,
    print_warnings,
    report_failures,
    say,
)
from cliptagger.cli.progress_bar import ProgressBar
from cliptagger.cli.session_setup import add_model_arguments, load_label_files, open_session
from cliptagger.core.errors import CliptaggerError
from cliptagger.core.metadata.embedded import XmpTarget
from cliptagger.core.metadata.export import ExportFormat
from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.metadata.targets import DEFAULT_TARGET, TARGET_KEYS

if TYPE_CHECKING:
    from cliptagger.core.metadata.sidecars import WriteReport
    from cliptagger.core.session import Session


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    tag = commands.add_parser("tag", help="propose tags for images and folders")
    tag.add_argument("paths", nargs="+", type=Path, help="image files and folders (searched recursively)")
    tag.add_argument("--labels", action="append", type=Path, metavar="FILE",
                     help="label set file (JSON, or a Lightroom keyword list .txt); repeat for several; "
                          "default: the bundled photo basics")
    add_model_arguments(tag)
    tag.add_argument("--batch-size", type=batch_size, default=None, metavar="N",
                     help="images per encoder batch (default 16 on CPU, 64 on CUDA)")
    tag.add_argument("--exact", action="store_true",
                     help="decode every image at full size (the reference path; slower, same tags)")
    tag.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    tag.add_argument("--write-xmp", action="store_true",
                     help="merge the proposed tags into XMP sidecars (undo with `cliptagger undo`)")
    tag.add_argument("--sidecar-style", choices=[s.value for s in SidecarStyle], default="ext",
                     help="name of new sidecars: IMG.ext.xmp (ext, default) or IMG.xmp (adobe)")
    tag.add_argument("--target", choices=TARGET_KEYS, default=DEFAULT_TARGET, metavar="APP",
                     help="the photo app that should see the keywords: puts them where it reads them "
                          f"({', '.join(TARGET_KEYS)}; default custom: --sidecar-style decides)")
    tag.add_argument("--sidecars-anyway", action="store_true",
                     help="for a --target that reads some photos only from inside the file: write sidecars "
                          "for those (the app will not see them) instead of refusing")
    tag.add_argument("--keyword-root", default="", metavar="ROOT",
                     help="write every keyword below ROOT (e.g. AI: AI|Animals|dog); recorded as cliptagger's")
    tag.add_argument("--keyword-list", type=Path, metavar="OUT",
                     help="also write the accepted keywords as a Lightroom keyword list (Import Keywords)")
    tag.add_argument("--xmp-target", choices=[t.value for t in XmpTarget], default=None,
                     help="where accepted tags go: sidecar (default), embedded (into JPEG, TIFF, DNG, PNG, "
                          "WebP themselves; needs ExifTool; raw files keep a sidecar) or both; implies --write-xmp")
    tag.add_argument("--embed-heif", action="store_true",
                     help="with --xmp-target embedded/both: also write into HEIC and AVIF files")
    tag.add_argument("--update-mtime", action="store_true",
                     help="with --xmp-target embedded/both: give changed photos the current modification "
                          "time (default: keep each photo's own)")
    tag.add_argument("--csv", type=Path, metavar="OUT", help="also write the results to a CSV file")
    tag.add_argument("--csv-format", choices=[f.value for f in ExportFormat], default=ExportFormat.SCORES.value,
                     help="scores: one column per label probability; "
                          "exiftool: keywords for `exiftool -csv+=` (adds to the photos' own)")
    tag.add_argument("--json", action="store_true", help="print one JSON object per image (JSON Lines)")
    tag.add_argument("--dry-run", action="store_true", help="show what would be written, change no file")
    tag.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    tag.add_argument("--zero-shot", action="store_true",
                     help="ignore the heads learned from your decisions and keywords (`cliptagger learn`)")
    tag.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                     help="encode on a Ray cluster first (the extra cliptagger[cluster]): its address, auto "
                          "(default: the running cluster) or local; then tag from the filled cache as usual")
    tag.add_argument("--ray-actors", type=whole_number(1, 100_000), default=None, metavar="N",
                     help="encoder actors on the cluster (default: one per GPU, else half the CPUs)")
    tag.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cliptagger.core.tagging.engine import ImageFailure

    label_sets = load_label_files(args.labels, args.model)  # a bad label file is reported first
    images = find_images(args.paths)
    if not images:
        return EXIT_NOTHING_TAGGED
    if args.write_xmp or args.dry_run:
        check_target(args, images)  # before the model loads: a refusal costs nothing
    session = open_session(args, label_sets)
    if args.ray is not None:
        encode_on_cluster(args, session, images)
    bar = ProgressBar(enabled=False if args.quiet else None)
    tagged, failures = 0, []
    try:
        for outcome in session.tag(images, progress=bar.callback(), cancel=threading.Event()):
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
    if args.xmp_target is not None:
        args.write_xmp = True
    session.accept_above_threshold(record=args.write_xmp and not args.dry_run)
    print_warnings(session)
    sidecars_failed = False
    if args.write_xmp or args.dry_run:
        sidecars_failed = write_xmp(args, session)
    if args.csv:
        write_csv(args, session)
    if args.keyword_list:
        write_keyword_list(args, session)
    report_failures(failures)
    say(f"tagged {tagged} of {len(images)} images" + (f", skipped {len(failures)}" if failures else "") + ".")
    print_warnings(session)  # e.g. the cache turned itself off mid-run
    if not tagged:
        return EXIT_NOTHING_TAGGED
    return EXIT_SIDECARS_FAILED if sidecars_failed else EXIT_OK


def encode_on_cluster(args: argparse.Namespace, session: "Session", images: "list[Path]") -> None:
    """--ray: fill the embedding cache on the cluster; the run below then encodes nothing it finished."""
    try:
        from cliptagger.cluster.runner import fill_cache_for_command
    except ImportError as err:  # the packaged app leaves the cluster extra out
        raise CliptaggerError(f"--ray needs a Python install with the cluster extra ({err}): "
                              "pip install 'cliptagger[cluster]'") from None
    bar = ProgressBar(enabled=False if args.quiet else None)
    try:
        report = fill_cache_for_command(session, images, args.ray, args.model, args.pretrained, args.checkpoint,
                                        args.text_language, args.precision, args.ray_actors, bar.callback())
    finally:
        bar.close()
    for warning in report.warnings:
        say(f"warning: {warning}")
    say(f"cluster: {report.encoded} encoded, {report.already_cached} already cached, "
        f"{len(report.failed)} unreadable (reported below) of {report.total} photos.")


def write_csv(args: argparse.Namespace, session: "Session") -> None:
    if args.dry_run:
        say(f"dry run, {args.csv} not written")
        return
    try:
        report = session.export(args.csv, ExportFormat(args.csv_format))
    except (CliptaggerError, OSError) as err:  # the tags are printed already: a warning, not an exit
        say(f"{args.csv} not written: {err}")
        return
    if report.command:
        say(f"wrote {args.csv}; apply it with:\n  {report.command}\n"
            "  (it adds the keywords to each photo's own; exiftool keeps a NAME_original backup of each "
            "photo it changes: add -overwrite_original to skip that)")
    elif report.nothing_to_apply:
        say(f"wrote {args.csv}: nothing to apply, the photos already have these keywords")
    else:
        say(f"wrote {args.csv}")


def check_target(args: argparse.Namespace, images: "list[Path]") -> None:
    """Refuse a --target that needs keywords inside photos this build cannot write into, unless
    --sidecars-anyway; say what the app needs to see them."""
    from cliptagger.core.metadata.targets import embedded_refusal, embedded_writer, target, where_to_write

    app = target(args.target)
    plan = where_to_write(app, images, SidecarStyle(args.sidecar_style))
    if plan.embedded and embedded_writer() is None:
        if not args.sidecars_anyway:
            raise CliptaggerError(embedded_refusal(app, plan.embedded))
        say(f"warning: {len(plan.embedded)} photos get sidecars that {app.name} does not read (--sidecars-anyway)")
    if plan.unread:
        say(f"warning: {app.name} reads no keywords of {len(plan.unread)} of these photos (e.g. "
            f"{plan.unread[0].name}); they get sidecars")
    if app.key != DEFAULT_TARGET:
        say(f"for {app.name}: {app.hint}")


def write_keyword_list(args: argparse.Namespace, session: "Session") -> None:
    from cliptagger.core.storage.fileio import atomic_write_text
    from cliptagger.core.tagging.keyword_list import dump_keyword_paths

    if args.dry_run:
        say(f"dry run, {args.keyword_list} not written")
        return
    accepted = dict.fromkeys(k for path in session.paths() for k in session.accepted_keywords(path))
    atomic_write_text(args.keyword_list, dump_keyword_paths(accepted))
    say(f"wrote {len(accepted)} accepted keywords to {args.keyword_list}")


def write_xmp(args: argparse.Namespace, session: "Session") -> bool:
    """Write (or show) the accepted keywords where they must go: per photo where the --target app
    reads them (inside the photo or a sidecar), else as --xmp-target says; True when any of them
    could not be written."""
    from cliptagger.core.metadata.targets import embedded_writer, target, where_to_write

    photos = session.unwritten()
    style = SidecarStyle(args.sidecar_style)
    if args.target != DEFAULT_TARGET:
        plan = where_to_write(target(args.target), photos, style)
        # without a writer, check_target refused already unless --sidecars-anyway
        into_photos = plan.embedded if embedded_writer() is not None else []
        sidecar_photos = plan.sidecars + plan.unread + [p for p in plan.embedded if p not in into_photos]
        style = plan.style
    else:
        xmp_target = XmpTarget(args.xmp_target or XmpTarget.SIDECAR.value)
        into_photos = photos if xmp_target.embedded else []  # both: the same photos get a sidecar too
        sidecar_photos = photos if xmp_target.sidecars else []
    failed = False
    if into_photos:
        failed = write_embedded_keywords(args, session, into_photos)
    if sidecar_photos:
        failed = write_sidecar_files(args, session, sidecar_photos, style) or failed
    return failed


def write_embedded_keywords(args: argparse.Namespace, session: "Session", photos: "list[Path]") -> bool:
    from cliptagger.core.metadata.embedded import EmbedOptions
    from cliptagger.core.metadata.exiftool_process import UNAVAILABLE_MESSAGE, exiftool_available

    if not exiftool_available():
        say(f"keywords not written into the photos: {UNAVAILABLE_MESSAGE}")
        return True
    options = EmbedOptions(dry_run=args.dry_run, preserve_mtime=not args.update_mtime, allow_heif=args.embed_heif,
                           description=f"cliptagger tag (embedded) {' '.join(str(p) for p in args.paths)}")
    # through the session's SidecarSync: the photos written count as written, their keywords re-read
    report = session.sidecars.write_embedded({photo: session.accepted_keywords(photo) for photo in photos}, options)
    return print_write_report(report, args.dry_run, "photos", "into ", "keywords not written into")


def write_sidecar_files(args: argparse.Namespace, session: "Session", photos: "list[Path]",
                        style: SidecarStyle) -> bool:
    report = session.write(style, dry_run=args.dry_run,
                           description=f"cliptagger tag {' '.join(str(p) for p in args.paths)}", paths=photos)
    return print_write_report(report, args.dry_run, "sidecars", "", "sidecar not written:")


def print_write_report(report: "WriteReport", dry_run: bool, what: str, into: str, not_written: str) -> bool:
    """One line per file written (with the keywords it gained and lost) and per failure, then
    the totals: ``cliptagger: sidecars: wrote 3, 0 already up to date, 0 failed``; True when
    any failed."""
    for warning in report.warnings:
        say(f"warning: {warning}")
    verb = "would write" if dry_run else "wrote"
    for path in report.written:
        change = report.changes.get(path)
        gained = ", ".join([f"+{k}" for k in change.added] + [f"-{k}" for k in change.removed]) if change else ""
        say(f"{verb} {into}{one_line(path)}" + (f": {gained}" if gained else ""))
    for path, reason in report.failed:
        say(f"{not_written} {one_line(path)}: {reason}")
    print(f"cliptagger: {what}: {verb} {len(report.written)}, {len(report.unchanged)} already up to date, "
          f"{len(report.failed)} failed" + ("" if dry_run or not report.written else
                                             " (undo with `cliptagger undo`)") + ".", file=sys.stderr)
    return bool(report.failed)
