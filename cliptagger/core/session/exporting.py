"""The session's results as a CSV: every score, or exiftool's form of the accepted tags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from cliptagger.core.errors import SessionError
from cliptagger.core.metadata.export import ExportFormat, write_exiftool_csv, write_scores_csv
from cliptagger.core.tagging.engine import ImageResult
from cliptagger.core.tagging.labels import LabelSet


@dataclass
class ExportReport:
    path: Path
    rows: int
    #: For the exiftool form: the command line that applies the CSV.
    command: str = ""
    #: For the exiftool form: every photo already has every keyword (no command to run).
    nothing_to_apply: bool = False


def export_results(path: Path, form: ExportFormat, results: Sequence[ImageResult], label_sets: list[LabelSet],
                   accepted_keywords: Callable[[Path], list[str]]) -> ExportReport:
    """Write ``results`` to ``path``: the scores of every set in ``label_sets`` (learned ones
    too) plus the accepted tags, or exiftool's CSV of the photos with accepted tags."""
    if form is ExportFormat.SCORES:
        accepted = {r.path: accepted_keywords(r.path) for r in results}
        write_scores_csv(path, list(results), label_sets, accepted)
        return ExportReport(path, len(results))
    assignments = {r.path: accepted_keywords(r.path) for r in results}
    assignments = {p: k for p, k in assignments.items() if k}
    if not assignments:
        raise SessionError("no accepted tags to export: accept some tags first")
    command = write_exiftool_csv(path, assignments)
    return ExportReport(path, len(assignments), command, nothing_to_apply=not command)
