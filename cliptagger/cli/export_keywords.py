"""``cliptagger export-keywords``: label sets as a Lightroom keyword list (or a JSON label file),
or the vocabulary cliptagger writes, for a photo app's keyword import.

Reading needs no command: ``--labels FILE.txt`` reads a keyword list wherever a label file
is taken (``core.tagging.keyword_list``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cliptagger.cli.exits import EXIT_OK
from cliptagger.cli.output import say
from cliptagger.cli.session_setup import load_label_files
from cliptagger.core.model.catalog import DEFAULT_KEY


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    export = commands.add_parser(
        "export-keywords", help="write label sets as a Lightroom keyword list (or JSON)",
        description="OUT.txt: a Lightroom keyword list (Metadata > Import Keywords), OUT.json: a cliptagger "
                    "label file. --labels takes either kind, so this also converts one into the other.")
    export.add_argument("out", type=Path, metavar="OUT", help="the file to write (.txt or .json)")
    export.add_argument("--labels", action="append", type=Path, metavar="FILE",
                        help="label files (JSON or .txt keyword lists); default: the model's bundled sets")
    export.add_argument("--model", default=DEFAULT_KEY, help="whose bundled sets are the default")
    export.add_argument("--vocabulary", action="store_true",
                        help="write every keyword cliptagger can write, each level a keyword (for a photo "
                             "app's keyword import) instead of the label sets")
    export.add_argument("--keyword-root", default="", metavar="ROOT",
                        help="with --vocabulary: every keyword below ROOT, as `tag --keyword-root` writes them")
    export.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cliptagger.core.errors import CliptaggerError
    from cliptagger.core.session.options import EngineOptions
    from cliptagger.core.storage.fileio import atomic_write_text
    from cliptagger.core.storage.text_rules import under_root
    from cliptagger.core.tagging.keyword_list import dump_keyword_paths, is_keyword_list, save_label_file

    label_sets = load_label_files(args.labels, args.model)
    if args.keyword_root and not args.vocabulary:
        raise CliptaggerError("--keyword-root goes with --vocabulary: label sets below a root would come back "
                              "as one set.")
    if not args.vocabulary:
        for loss in save_label_file(args.out, label_sets):
            say(f"note: {loss}")
        say(f"wrote {len(label_sets)} label sets to {args.out}")
        return EXIT_OK
    if not is_keyword_list(args.out):
        raise CliptaggerError(f"--vocabulary writes a keyword list: name it .txt, not {args.out.name!r}.")
    root = EngineOptions(keyword_root=args.keyword_root).keyword_root  # refused with a message if unusable
    synonyms = {under_root(label.keyword, root): label.synonyms for s in label_sets for label in s.labels}
    atomic_write_text(args.out, dump_keyword_paths(synonyms, synonyms))
    say(f"wrote {len(synonyms)} keywords to {args.out}")
    return EXIT_OK
