"""``cliptagger search``: rank photos by text and by example, best first."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import Any

from cliptagger.cli.exits import EXIT_NOTHING_TAGGED, EXIT_OK, EXIT_SETUP
from cliptagger.cli.option_types import batch_size, number, whole_number
from cliptagger.cli.output import find_images, one_line, report_failures, say
from cliptagger.cli.progress_bar import ProgressBar
from cliptagger.cli.session_setup import add_model_arguments, open_session


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    search = commands.add_parser("search", help="find photos by text and by example (ranked, best first)")
    search.add_argument("query", help='what to look for, e.g. "a red kite over the sea" ("" with --like only)')
    search.add_argument("paths", nargs="+", type=Path, help="image files and folders (searched recursively)")
    search.add_argument("--like", action="append", type=Path, default=[], metavar="IMAGE",
                        help="photos whose look to find more of; repeat for several")
    search.add_argument("--not", dest="unlike", action="append", default=[], metavar="TEXT",
                        help="push photos that match this text down; repeat for several")
    search.add_argument("--top", type=whole_number(0), default=20, metavar="K", help="show the K best (default 20; 0: all)")
    search.add_argument("--min-score", type=number(-1.0, 1.0), default=None, metavar="S",
                        help="show only photos scoring at least S (a cosine, -1 to 1)")
    search.add_argument("--json", action="store_true", help="one JSON object per photo (JSON Lines)")
    add_model_arguments(search)
    search.add_argument("--batch-size", type=batch_size, default=None, metavar="N", help="images per encoder batch")
    search.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    search.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    search.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rank photos by a query; photos not in the cache yet are encoded first (progress bar).
    A query that cannot be answered is a ``SearchError``: reported once, by ``app.main``."""
    from cliptagger.core.tagging.engine import ImageFailure
    from cliptagger.core.tagging.search import SearchQuery

    query = SearchQuery(args.query, tuple(args.like), tuple(args.unlike))
    if query.is_empty:
        say("give a query text or --like IMAGE.")
        return EXIT_SETUP
    for example in query.like:
        if not example.is_file():
            say(f"--like {example}: no such file")
            return EXIT_SETUP
    images = find_images(args.paths)
    if not images:
        return EXIT_NOTHING_TAGGED
    session = open_session(args, texts_to_check=[query.text, *query.unlike])
    bar = ProgressBar(enabled=False if args.quiet else None)
    try:
        hits = session.search(query, images, cancel=threading.Event(), top=args.top or None,
                              min_score=args.min_score, progress=bar.callback())
    finally:
        bar.close()
    for path, score in hits:
        print(json.dumps({"path": str(path), "score": round(score, 4)}, ensure_ascii=False) if args.json
              else f"{score:.4f}  {one_line(path)}")
    report_failures([ImageFailure(p, reason) for p, reason in session.failures()])
    say(f"{len(hits)} of {len(images)} photos shown for {query.describe()}.")
    return EXIT_OK if hits else EXIT_NOTHING_TAGGED
