"""CSV exports: a scores table for spreadsheets (and, with the sidecar work, exiftool's CSV)."""

from __future__ import annotations

import csv
import io
from enum import Enum
from pathlib import Path
from typing import Mapping, Optional, Sequence

from cliptagger.core.fileio import atomic_write_text
from cliptagger.core.labels import LabelSet
from cliptagger.core.xmp import KEYWORD_PROPERTIES


class ExportFormat(str, Enum):
    """The CSV forms cliptagger writes (CLI ``--csv-format``, the app's Export dialog)."""

    SCORES = "scores"       # one column per label probability, for spreadsheets
    EXIFTOOL = "exiftool"   # keywords, for ``exiftool -csv+=``


def scores_csv_text(results: Sequence, label_sets: Sequence[LabelSet],
                    accepted: Optional[Mapping[Path, Sequence[str]]] = None) -> str:
    """One row per image: path, proposed keywords, accepted keywords (when a review happened),
    then one column per label probability."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    label_columns = [(s, label) for s in label_sets for label in s.labels]
    review = ["accepted_tags"] if accepted is not None else []
    writer.writerow(["path", "proposed_tags", *review] + [f"{s.name}: {label.keyword}" for s, label in label_columns])
    for result in results:
        by_set = {scores.label_set.name: scores for scores in result.scores}
        row = [str(result.path), "; ".join(result.keywords)]
        if accepted is not None:
            row.append("; ".join(accepted.get(result.path, ())))
        for label_set, label in label_columns:
            scores = by_set.get(label_set.name)
            if scores is None:
                row.append("")
            else:
                row.append(f"{scores.probabilities[scores.label_set.labels.index(label)]:.6f}")
        writer.writerow(row)
    return buffer.getvalue()


def write_scores_csv(path: Path, results: Sequence, label_sets: Sequence[LabelSet],
                     accepted: Optional[Mapping[Path, Sequence[str]]] = None) -> None:
    # A UTF-8 byte order mark lets Excel open non-ASCII paths and labels correctly.
    atomic_write_text(Path(path), "\ufeff" + scores_csv_text(results, label_sets, accepted))


LIST_SEPARATORS = (", ", "; ", " ~ ")


def pick_list_separator(keywords: Sequence[str]) -> str:
    """The first separator that no keyword contains (exiftool splits lists on it: -sep)."""
    for separator in LIST_SEPARATORS:
        if not any(separator in keyword for keyword in keywords):
            return separator
    raise ValueError("every candidate list separator occurs inside some keyword")


def exiftool_csv_text(assignments: Mapping[Path, Sequence[str]]) -> tuple[str, str]:
    """(csv text, separator): apply with ``exiftool -csv=FILE -sep SEPARATOR FILES...``."""
    all_keywords = [k for keywords in assignments.values() for k in keywords]
    separator = pick_list_separator(all_keywords)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    # The same properties, in the same forms, as the sidecars cliptagger writes itself.
    writer.writerow(["SourceFile"] + [prop.exiftool_tag for prop in KEYWORD_PROPERTIES])
    for path, keywords in assignments.items():
        row = [str(path)]
        for prop in KEYWORD_PROPERTIES:
            row.append(separator.join(dict.fromkeys(prop.render(k) for k in keywords)))
        writer.writerow(row)
    return buffer.getvalue(), separator


def write_exiftool_csv(path: Path, assignments: Mapping[Path, Sequence[str]]) -> str:
    """Write the CSV; returns the exiftool command line that applies it."""
    text, separator = exiftool_csv_text(assignments)
    atomic_write_text(Path(path), text)
    return f'exiftool -csv="{path}" -sep "{separator}" -overwrite_original FILES_OR_FOLDERS'
