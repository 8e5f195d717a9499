"""CSV exports: a scores table for spreadsheets (and, with the sidecar work, exiftool's CSV)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from cliptagger.core.fileio import atomic_write_text
from cliptagger.core.labels import LabelSet


def scores_csv_text(results: Sequence, label_sets: Sequence[LabelSet]) -> str:
    """One row per image: path, proposed keywords, then one column per label probability."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    label_columns = [(s, label) for s in label_sets for label in s.labels]
    writer.writerow(["path", "proposed_tags"] + [f"{s.name}: {label.keyword}" for s, label in label_columns])
    for result in results:
        by_set = {scores.label_set.name: scores for scores in result.scores}
        row = [str(result.path), "; ".join(result.keywords)]
        for label_set, label in label_columns:
            scores = by_set.get(label_set.name)
            if scores is None:
                row.append("")
            else:
                row.append(f"{scores.probabilities[scores.label_set.labels.index(label)]:.6f}")
        writer.writerow(row)
    return buffer.getvalue()


def write_scores_csv(path: Path, results: Sequence, label_sets: Sequence[LabelSet]) -> None:
    # A UTF-8 byte order mark lets Excel open non-ASCII paths and labels correctly.
    atomic_write_text(Path(path), "\ufeff" + scores_csv_text(results, label_sets))
