"""What the CLI prints: result lines (text or JSON Lines) on stdout, everything else on stderr."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

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


#: C0 controls but newline, DEL, C1 controls, and C1 bytes of non-UTF-8 names (surrogateescape):
#: a file name or keyword holding them could clear the screen or retitle the window.
_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\udc80-\udc9f]")


def one_line(path: object) -> str:
    """A file name on one output line: its newlines and carriage returns shown as ``\\n`` and
    ``\\r`` (a name may hold them; a line-per-photo listing must stay one line per photo)."""
    return str(path).replace("\n", "\\n").replace("\r", "\\r")


def escape_controls(text: str) -> str:
    """``text`` with every control character but newline shown as ``\\xNN``."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()) & 0xFF:02x}", text)


class EscapingStream:
    """A text stream whose writes have their control characters escaped (``escape_controls``);
    ``unescaped`` is the stream itself, for the progress bar's own ``\\r``."""

    def __init__(self, stream: Any) -> None:
        self.unescaped = stream

    def write(self, text: str) -> int:
        return int(self.unescaped.write(escape_controls(text)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unescaped, name)


@contextlib.contextmanager
def escaped_terminal_output() -> Iterator[None]:
    """While the CLI runs, nothing it prints can drive the terminal (restored afterwards)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingStream(sys.stdout), EscapingStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def find_images(paths: Sequence[Path]) -> list[Path]:
    """The supported images under ``paths``; every file skipped is reported with its reason."""
    from cliptagger.core.media.scan import scan

    found = scan(paths)
    for path, reason in found.problems:
        say(f"{one_line(path)}: {reason}")
    if not found.images:
        say("no supported images found.")
    return found.images


def print_warnings(session: "Session") -> None:
    for warning in session.take_warnings():
        say(f"warning: {warning}")


def format_result_line(result: "ImageResult") -> str:
    tags = ", ".join(f"{p.keyword} ({p.probability:.2f})" for p in result.proposals) or "(no tag above threshold)"
    return f"{one_line(result.path)}: {tags}"


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
        print(f"  {one_line(failure.path)}: {failure.reason}", file=sys.stderr)
