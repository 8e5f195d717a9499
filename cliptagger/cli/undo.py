"""``cliptagger undo``: take back the last batch of sidecar writes (``--list``, ``--force``)."""

from __future__ import annotations

import argparse
from typing import Any

from cliptagger.cli.exits import EXIT_NOTHING_TAGGED, EXIT_OK
from cliptagger.cli.output import one_line, say


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    undo = commands.add_parser("undo", help="take back the last batch of sidecar writes")
    undo.add_argument("--force", action="store_true",
                      help="also take cliptagger's keywords out of sidecars changed since it wrote them "
                           "(the changes made since are kept)")
    undo.add_argument("--list", action="store_true", help="list the batches that can be undone")
    undo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cliptagger.core.metadata.journal import describe, held_batches, list_batches
    from cliptagger.core.metadata.journal_retention import usage
    from cliptagger.core.metadata.undo import undo_last_batch

    if args.list:
        batches = sorted(list_batches() + held_batches(), key=lambda b: b.name)
        for batch in batches:
            print(describe(batch))
        if not batches:
            print("nothing to undo")
        say(usage().describe())  # stderr: stdout lists one batch a line
        return EXIT_OK
    report = undo_last_batch(force=args.force)
    if report.batch is None:
        held = held_batches()
        say("nothing to undo" + (f"; {len(held)} batch(es) changed since cliptagger wrote them: "
            "`cliptagger undo --force` removes only cliptagger's keywords from them" if held else ""))
        return EXIT_NOTHING_TAGGED
    for path in report.restored:
        print(f"restored {one_line(path)}")
    for path in report.removed:
        print(f"removed {one_line(path)}")
    for path in report.merged:
        print(f"removed cliptagger's keywords from {one_line(path)} (changed since; the other changes stay)")
    for path in report.nothing_left:
        print(f"nothing of cliptagger's left in {one_line(path)} (changed since); left as it is")
    for path, reason in report.skipped:
        say(f"not undone: {one_line(path)}: {reason}")
    for path, reason in report.refused:
        say(f"journal line not acted on: {one_line(path)}: {reason}; the file was not touched")
    if report.unsettled:
        say(f"warning: {report.unsettled}")
    if report.skipped and not args.force:
        say("run `cliptagger undo --force` to take cliptagger's keywords out of those too "
            "(the changes made since stay); `cliptagger undo` goes on with older batches")
    return EXIT_OK
