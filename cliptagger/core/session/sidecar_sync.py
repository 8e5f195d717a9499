"""What the session knows of each photo's metadata on disk, and the writes that change it.

``SidecarSync`` owns, per photo: the keywords accepted now (as the session tells it), the
keywords our last write put in force, and the keywords already in the photo's sidecars and
embedded metadata. From these it keeps the set of photos with unwritten changes as each
photo changes, so the count the GUI shows after every click costs O(1), not O(library).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Optional, Sequence

from cliptagger.core.metadata.journal import list_batches
from cliptagger.core.metadata.sidecars import (
    FolderListing,
    SidecarStyle,
    WriteReport,
    existing_keywords,
    existing_sidecars,
    sidecar_path,
    write_sidecars,
)
from cliptagger.core.metadata.undo import undo_last_batch
from cliptagger.core.metadata.xmp import fold
from cliptagger.core.session.decisions import as_path
from cliptagger.core.tagging.engine import Progress

if TYPE_CHECKING:
    from cliptagger.core.metadata.embedded import EmbedOptions
    from cliptagger.core.metadata.undo import UndoReport


class SidecarSync:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: dict[Path, frozenset[str]] = {}
        #: Keywords our last write put in force (absent: never written by this session).
        self._written: dict[Path, frozenset[str]] = {}
        #: Keywords already in the photo's sidecars and embedded metadata (absent: not read yet).
        self._existing: dict[Path, list[str]] = {}
        self._problems: dict[Path, list[str]] = {}
        #: Keywords (folded) that cliptagger's record in the photo's sidecars calls its own.
        self._ours: dict[Path, frozenset[str]] = {}
        #: Photos whose last write failed, with why (until a write of theirs succeeds).
        self._write_failed: dict[Path, str] = {}
        self._unwritten: set[Path] = set()

    # ---------------------------------------------------------------- state, O(photos changed)

    def _update(self, path: Path) -> None:
        accepted, written = self._accepted.get(path, frozenset()), self._written.get(path)
        if (written is None and accepted) or (written is not None and accepted != written):
            self._unwritten.add(path)
        else:
            self._unwritten.discard(path)

    def note_accepted(self, accepted: Mapping[Path, Iterable[str]]) -> None:
        """The keywords accepted now for these photos (the session tells after each change)."""
        with self._lock:
            for path, keywords in accepted.items():
                self._accepted[path] = frozenset(keywords)
                self._update(path)

    def mark_written(self, written: Mapping[Path, Iterable[str]]) -> None:
        """These photos' sidecars hold these keywords of ours now."""
        with self._lock:
            for path, keywords in written.items():
                self._written[path] = frozenset(keywords)
                self._update(path)

    def mark_unwritten(self, paths: Iterable[Path]) -> None:
        with self._lock:
            for path in paths:
                self._written.pop(path, None)
                self._update(path)

    def forget_all(self) -> None:
        with self._lock:
            for table in (self._accepted, self._written, self._existing, self._problems, self._write_failed,
                          self._ours):
                table.clear()
            self._unwritten.clear()

    def is_written(self, path: Path) -> bool:
        """Written by this session and unchanged since."""
        with self._lock:
            return path in self._written and path not in self._unwritten

    def is_unwritten(self, path: Path) -> bool:
        with self._lock:
            return path in self._unwritten

    def unwritten_count(self) -> int:
        with self._lock:
            return len(self._unwritten)

    def unwritten(self) -> set[Path]:
        with self._lock:
            return set(self._unwritten)

    # ---------------------------------------------------------------- keywords on disk

    def known_existing(self, path: Path) -> Optional[list[str]]:
        """The photo's existing keywords if they were read already (None: not yet); no disk I/O."""
        with self._lock:
            found = self._existing.get(as_path(path))
            return list(found) if found is not None else None

    def problems(self, path: Path) -> list[str]:
        """Why the photo's sidecar could not be written last time, then why its sidecars or
        embedded metadata could not be read (empty: no problem)."""
        with self._lock:
            path = as_path(path)
            failed = self._write_failed.get(path)
            return ([f"not written: {failed}"] if failed else []) + list(self._problems.get(path, []))

    def users_keywords(self, path: Path) -> Optional[list[str]]:
        """The photo's existing keywords without those cliptagger's record calls its own (None:
        not read yet): what the user put there, to learn from."""
        with self._lock:
            path = as_path(path)
            found, ours = self._existing.get(path), self._ours.get(path, frozenset())
            return None if found is None else [k for k in found if fold(k) not in ours]

    def write_failure_count(self) -> int:  # O(1): the status bar asks after every change
        with self._lock:
            return len(self._write_failed)

    def write_failures(self) -> list[tuple[Path, str]]:
        with self._lock:
            return sorted(self._write_failed.items())

    def read_existing(self, paths: Iterable[Path], progress: Optional[Callable[[Progress], None]] = None,
                      cancel: Optional[object] = None) -> dict[Path, list[str]]:
        """Re-read the keywords already in these photos' sidecars and files (``cancel``, an
        Event: stop early, returning what was read; ``progress``: told every 32 photos)."""
        paths = [as_path(p) for p in paths]
        listing = FolderListing()
        found: dict[Path, list[str]] = {}
        start = time.monotonic()
        for index, path in enumerate(paths):
            if cancel is not None and cancel.is_set():  # type: ignore[attr-defined]
                break
            if progress is not None and index % 32 == 0:
                progress(Progress(index, len(paths), 0, time.monotonic() - start))
            ours: set[str] = set()
            keywords, problems = existing_keywords(path, listing, ours)
            found[path] = keywords
            with self._lock:
                self._existing[path], self._problems[path] = keywords, problems
                self._ours[path] = frozenset(ours)
        if progress is not None and len(found) == len(paths):
            progress(Progress(len(paths), len(paths), 0, time.monotonic() - start))
        return found

    # ---------------------------------------------------------------- writes

    def write(self, assignments: Mapping[Path, list[str]], style: SidecarStyle, dry_run: bool,
              description: str) -> WriteReport:
        """Write these keywords of ours into each photo's sidecar (journaled; see ``sidecars``);
        the photos written count as written, and their keywords on disk are read again."""
        report = write_sidecars(dict(assignments), style, dry_run=dry_run, description=description)
        if not dry_run:
            self._after_write(assignments, report)
        return report

    def write_embedded(self, assignments: Mapping[Path, list[str]], options: "EmbedOptions") -> WriteReport:
        """Write these keywords of ours into the photos themselves (see ``embedded``), with
        the same bookkeeping as ``write``."""
        from cliptagger.core.metadata.embedded import write_embedded

        report = write_embedded(dict(assignments), options)
        if not options.dry_run:
            self._after_write(assignments, report)
        return report

    def _after_write(self, assignments: Mapping[Path, list[str]], report: WriteReport) -> None:
        """After a write: its failures remembered (or forgotten), the photos saved count as
        written, and their keywords on disk are read again."""
        with self._lock:
            for path in assignments:
                if path in report.failed_images:
                    self._write_failed[path] = report.failed_images[path]
                else:
                    self._write_failed.pop(path, None)
        self.mark_written({path: assignments[path] for path in report.images_saved})
        self.read_existing(report.images_saved)

    def undo(self, photos: Sequence[Path], force: bool = False) -> "UndoReport":
        """Take back the last batch of writes; the ``photos`` it touched count as unwritten."""

        report = undo_last_batch(force=force)
        touched = {Path(p) for p in [*report.restored, *report.removed, *report.merged]}
        if touched:
            listing = FolderListing()
            affected = [path for path in photos if path in touched  # keywords embedded in the photo
                        or touched & {*existing_sidecars(path, listing), sidecar_path(path, listing=listing)}]
            self.mark_unwritten(affected)
            self.read_existing(affected)
        return report

    @staticmethod
    def can_undo() -> bool:

        return bool(list_batches())
