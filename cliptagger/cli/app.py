"""The CLI's entry point: parse, dispatch to the command's ``func``, one place for errors."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from cliptagger import __version__
from cliptagger.cli import cache, demo, explain, export_keywords, learn, models, search, tag, undo
from cliptagger.cli.exits import EXIT_INTERRUPTED, EXIT_SETUP
from cliptagger.cli.output import escaped_terminal_output, pass_file_names_through, say
from cliptagger.core.errors import CliptaggerError

COMMANDS = (tag, models, undo, cache, learn, demo, search, explain, export_keywords)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cliptagger", description="Zero-shot photo tagging with CLIP.")
    parser.add_argument("--version", action="version", version=f"cliptagger {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    pass_file_names_through()
    with escaped_terminal_output():
        args = build_parser().parse_args(argv)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.func(args)
        return code
    except CliptaggerError as err:  # every user-facing error, caught once
        say(str(err))
        return EXIT_SETUP
    except OSError as err:
        say(f"{err.filename or ''}{': ' if err.filename else ''}{err.strerror or err}")
        return EXIT_SETUP
    except KeyboardInterrupt:
        print("\ncliptagger: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
