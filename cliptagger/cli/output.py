"""What the CLI prints: result lines (text or JSON Lines) on stdout, everything else on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from cliptagger.core.session import Session
    from cliptagger.core.tagging.engine import ImageFailure, ImageResult


def say(message: str) -> None:
    """One ``cliptagger: ...`` line on stderr."""
    print(f"cliptagger: {message}", file=sys.stderr)


def pass_file_names_through() -> None:
    """Print file names that are not valid UTF-8 as their original bytes, on both streams.

    Python's stdout is strict under a UTF-8 locale: one such name ended a run with
    UnicodeEncodeError (and stderr escaped the same name differently)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")


def find_images(paths: Sequence[Path]) -> list[Path]:
    """The supported images under ``paths``; every file skipped is reported with its reason."""
    from cliptagger.core.media.scan import scan

    found = scan(paths)
    for path, reason in found.problems:
        say(f"{path}: {reason}")
    if not found.images:
        say("no supported images found.")
    return found.images


def print_warnings(session: "Session") -> None:
    for warning in session.take_warnings():
        say(f"warning: {warning}")


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
    say(f"skipped {len(failures)} file(s):")
    for failure in failures:
        print(f"  {failure.path}: {failure.reason}", file=sys.stderr)
