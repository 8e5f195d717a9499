"""CSV exports: a scores table for spreadsheets (and, with the sidecar work, exiftool's CSV)."""

from __future__ import annotations

import csv
import io
import os
import shlex
import subprocess
from enum import Enum
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from cliptagger.core.metadata.sidecars import embedded_xmp_packet
from cliptagger.core.metadata.xmp import KEYWORD_PROPERTIES, fold, read_keywords
from cliptagger.core.metadata.xmp_document import XmpError, parse_xmp
from cliptagger.core.storage.fileio import atomic_write_text
from cliptagger.core.tagging.labels import LabelSet


class ExportFormat(str, Enum):
    """The CSV forms cliptagger writes (CLI ``--csv-format``, the app's Export dialog)."""

    SCORES = "scores"       # one column per label probability, for spreadsheets
    EXIFTOOL = "exiftool"   # keywords, for ``exiftool -csv+=``


#: A cell starting with one of these is a formula to a spreadsheet (OWASP: CSV injection),
#: also in their full-width forms, which some spreadsheets fold to ASCII.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a spreadsheet shows it and never runs it: a leading ``'`` where it would
    start a formula (numbers we write, like ``0.25``, never start so)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def scores_csv_text(results: Sequence[Any], label_sets: Sequence[LabelSet],
                    accepted: Optional[Mapping[Path, Sequence[str]]] = None) -> str:
    """One row per image: path, proposed keywords, accepted keywords (when a review happened),
    then one column per label probability."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    label_columns = [(s, label) for s in label_sets for label in s.labels]
    review = ["accepted_tags"] if accepted is not None else []
    writer.writerow(["path", "proposed_tags", *review]
                    + [spreadsheet_safe(f"{s.name}: {label.keyword}") for s, label in label_columns])
    for result in results:
        by_set = {scores.label_set.name: scores for scores in result.scores}
        row = [spreadsheet_safe(str(result.path)), spreadsheet_safe("; ".join(result.keywords))]
        if accepted is not None:
            row.append(spreadsheet_safe("; ".join(accepted.get(result.path, ()))))
        for label_set, label in label_columns:
            scores = by_set.get(label_set.name)
            if scores is None:
                row.append("")
            else:
                row.append(f"{scores.probabilities[scores.label_set.labels.index(label)]:.6f}")
        writer.writerow(row)
    return buffer.getvalue()


def write_scores_csv(path: Path, results: Sequence[Any], label_sets: Sequence[LabelSet],
                     accepted: Optional[Mapping[Path, Sequence[str]]] = None) -> None:
    # A UTF-8 byte order mark lets Excel open non-ASCII paths and labels correctly.
    atomic_write_text(Path(path), "\ufeff" + scores_csv_text(results, label_sets, accepted))


#: No spaces: exiftool reads a space in ``-sep`` as "any whitespace, or none", so with ", "
#: the keyword "com,ma" was split in two (and " ~ " split "a~b"). Without spaces it splits literally.
LIST_SEPARATORS = (";;", "~~", "^^")


def _separator_candidates() -> Iterator[str]:
    yield from LIST_SEPARATORS
    width = 3
    while True:  # "~~~", "~~~~", ...: some width is in no keyword, so this always ends
        yield "~" * width
        width += 1


def pick_list_separator(keywords: Sequence[str]) -> str:
    """The first separator that no keyword contains (exiftool splits lists on it: -sep).

    Never fails: when every usual separator occurs inside some keyword, a longer one is used.
    """
    for separator in _separator_candidates():
        if all(_splits_cleanly(keyword, separator) for keyword in keywords):
            return separator
    raise AssertionError("unreachable")


def _splits_cleanly(keyword: str, separator: str) -> bool:
    """Joined with ``separator`` on either side, ``keyword`` comes back whole when split."""
    return (keyword + separator).find(separator) == len(keyword) and (separator + keyword).find(separator, 1) == -1


def embedded_keyword_values(image: Path) -> dict[str, set[str]]:
    """exiftool tag -> folded values the image's own XMP packet already holds (none if unreadable)."""

    values: dict[str, set[str]] = {prop.exiftool_tag: set() for prop in KEYWORD_PROPERTIES}
    packet = embedded_xmp_packet(Path(image))
    if packet is None:
        return values
    try:
        document = parse_xmp(packet, f"XMP inside {Path(image).name}")
    except XmpError:
        return values
    state = read_keywords(document)
    for prop, found in zip(KEYWORD_PROPERTIES, (state.leaves, state.hierarchical, state.digikam)):
        values[prop.exiftool_tag] = {fold(prop.render(k)) if prop.separator else fold(k) for k in found}
    return values


def exiftool_csv_text(assignments: Mapping[Path, Sequence[str]],
                      existing: Optional[Mapping[Path, Mapping[str, set[str]]]] = None) -> tuple[str, str]:
    """(csv text, separator): apply with ``exiftool -csv+=FILE -sep SEPARATOR FILES...``.

    ``existing`` (path -> exiftool tag -> folded values already in the photo) leaves out what
    the photo has: ``-csv+=`` adds to the lists, and would otherwise repeat those values.
    """
    text, separator, _rows = _exiftool_csv(assignments, existing)
    return text, separator


def _exiftool_csv(assignments: Mapping[Path, Sequence[str]],
                  existing: Optional[Mapping[Path, Mapping[str, set[str]]]]) -> tuple[str, str, list[Path]]:
    """``exiftool_csv_text`` plus the photos that got a row (the others have every keyword)."""
    all_keywords = [k for keywords in assignments.values() for k in keywords]
    separator = pick_list_separator([v for k in all_keywords for v in {k, *(p.render(k) for p in KEYWORD_PROPERTIES)}])
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    # The same properties, in the same forms, as the sidecars cliptagger writes itself.
    writer.writerow(["SourceFile"] + [prop.exiftool_tag for prop in KEYWORD_PROPERTIES])
    rows: list[Path] = []
    for path, keywords in assignments.items():
        have = (existing or {}).get(path, {})
        row = [os.path.abspath(path)]  # the command may be run from any folder
        for prop in KEYWORD_PROPERTIES:
            values = dict.fromkeys(prop.render(k) for k in keywords)
            row.append(separator.join(v for v in values if fold(v) not in have.get(prop.exiftool_tag, ())))
        if any(row[1:]):
            writer.writerow(row)
            rows.append(Path(path))
    return buffer.getvalue(), separator, rows


#: Above this many photos the command names their folders (exiftool skips files not in the CSV).
MAX_FILES_ON_COMMAND_LINE = 50


def exiftool_command(csv_path: Path, separator: str, photos: Sequence[Path],
                     overwrite_original: bool = False) -> str:
    """The shell command that applies the CSV: adds (``-csv+=``), keeps exiftool's ``_original``
    backups unless ``overwrite_original``, names the real files (or their folders), quoted.
    Every path is absolute: the command works from whatever folder it is pasted into."""
    csv_path = Path(os.path.abspath(csv_path))
    photos = [Path(os.path.abspath(p)) for p in photos]
    targets = [str(p) for p in photos] if len(photos) <= MAX_FILES_ON_COMMAND_LINE \
        else list(dict.fromkeys(str(p.parent) for p in photos))
    arguments = ["exiftool", f"-csv+={csv_path}", "-sep", separator]
    if overwrite_original:
        arguments.append("-overwrite_original")
    # a name starting with '-' would read as an option
    return _shell_join(arguments + [f"./{t}" if t.startswith("-") else t for t in targets])


def _shell_join(arguments: Sequence[str]) -> str:
    if os.name == "nt":
        return subprocess.list2cmdline(list(arguments))
    return shlex.join(arguments)


def write_exiftool_csv(path: Path, assignments: Mapping[Path, Sequence[str]],
                       overwrite_original: bool = False) -> str:
    """Write the CSV; returns the exiftool command line that applies it ("" when every photo
    already has every keyword: there is nothing to apply)."""
    existing = {Path(p): embedded_keyword_values(Path(p)) for p in assignments}
    text, separator, needed = _exiftool_csv(assignments, existing)
    atomic_write_text(Path(path), text)
    return exiftool_command(Path(path), separator, needed, overwrite_original) if needed else ""
