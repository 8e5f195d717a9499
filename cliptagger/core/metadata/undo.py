"""Undo: take back the newest batch of the journal (``cliptagger.core.metadata.journal``).

Per file, newest first: the file holds what we wrote -> its prior bytes are restored (or the
file we created removed); it holds the prior bytes -> nothing to do; anything else -> left
alone and kept in ``<sequence>.held`` for ``undo --force``, which takes out only the keywords
the batch added (by cliptagger's record in the sidecar, or, where another program dropped
that record, by the journal's own list).

One undo runs at a time (a lock in the data folder): a second one waits and then takes the
next batch. A journal folder that cannot be written is found before anything is touched.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from cliptagger.core.errors import UndoError
from cliptagger.core.metadata.embedded_undo import undo_embedded
from cliptagger.core.metadata.journal import (
    HELD_SUFFIX,
    JOURNAL_VERSION,
    PENDING_SUFFIX,
    SEQUENCE_DIGITS,
    JournalEntry,
    batch_records,
    batch_sequence,
    checked_batch,
    entry_from_record,
    held_batches,
    list_batches,
    trusted_lines,
)
from cliptagger.core.metadata.journal_integrity import MAC_FIELD, JournalKeyError, Signer, load_key
from cliptagger.core.metadata.xmp import (
    fold,
    read_keywords,
    union_keywords,
    updated_sidecar,
    without_listed_keywords,
)
from cliptagger.core.metadata.xmp_document import XmpError, parse_xmp
from cliptagger.core.storage.fileio import (
    FileChanged,
    Snapshot,
    _fsync_folder,
    atomic_write_bytes,
    replace_if_unchanged,
    sha256,
    snapshot,
)
from cliptagger.core.storage.locks import LockTimeout, sidecar_lock, undo_lock


@dataclass
class UndoReport:
    restored: list[Path]
    removed: list[Path]
    skipped: list[tuple[Path, str]]
    batch: Optional[Path]
    #: ``--force`` on a file changed since: only cliptagger's keywords were taken out.
    merged: list[Path] = field(default_factory=list)
    #: Logged but never written (the run was killed or the write failed): nothing to undo.
    not_written: list[Path] = field(default_factory=list)
    #: Where the entries left alone were kept for ``undo --force`` (None: nothing kept).
    held: Optional[Path] = None
    #: Journal lines undo would not act on (tampered, or naming a file cliptagger never writes).
    refused: list[tuple[Path, str]] = field(default_factory=list)
    #: ``--force`` on a file changed since that holds none of cliptagger's keywords any more.
    nothing_left: list[Path] = field(default_factory=list)
    #: Why the batch could not be marked undone afterwards ("": it was).
    unsettled: str = ""


def undo_last_batch(force: bool = False, wait_s: Optional[float] = None) -> UndoReport:
    """Undo the newest pending batch (with ``force``: the newest pending or held one).

    ``UndoError`` before anything is touched when another undo keeps the journal past
    ``wait_s`` or the journal folder cannot be written (the batch could not be marked undone)."""
    try:
        with undo_lock(wait_s):
            return _undo_newest(force)
    except LockTimeout:
        raise UndoError("Another cliptagger is undoing right now; try again when it has finished.") from None


def _undo_newest(force: bool) -> UndoReport:
    while True:
        candidates = list_batches() + (held_batches() if force else [])
        if not candidates:
            return UndoReport([], [], [], None)
        batch = max(candidates, key=lambda p: (batch_sequence(p), p.suffix == HELD_SUFFIX))
        entries, refused = checked_batch(batch)
        if entries or refused:
            break
        # A run killed before its first write left an empty batch: it must not use up an undo.
        _check_writable(batch.parent)
        _settle_batch(batch, [], UndoReport([], [], [], batch))
    _check_writable(batch.parent)
    report = UndoReport([], [], [], batch, refused=refused)
    kept: list[JournalEntry] = []
    # Newest first, so that a file written twice in one batch ends at its first prior.
    for entry in reversed(entries):
        if not _undo_entry(entry, force, report):
            kept.append(entry)
    try:
        _settle_batch(batch, kept, report)
    except OSError as err:  # e.g. the folder became read-only meanwhile: undoing it again is harmless
        report.unsettled = (f"the journal could not mark the batch undone ({err.strerror or err}); it stays "
                            "listed, and undoing it again changes nothing that was already undone")
    return report


def _check_writable(folder: Path) -> None:
    """``UndoError`` unless a file can be created in the journal folder (undo must be able to
    mark the batch undone afterwards, or the list of batches would stop being true)."""
    probe = folder / f".write-check-{os.getpid()}.tmp"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as err:
        raise UndoError(f"The undo journal folder {folder} cannot be written ({err.strerror or err}); "
                        "nothing was undone.") from None


def _undo_entry(entry: JournalEntry, force: bool, report: UndoReport) -> bool:
    """Undo one write; False when the entry stays for a later ``undo --force``."""

    try:
        with sidecar_lock(entry.path):
            for _ in range(5):
                try:
                    return _undo_entry_once(entry, force, report)
                except FileChanged:
                    continue
    except LockTimeout as err:
        report.skipped.append((entry.path, str(err)))
        return False
    report.skipped.append((entry.path, "it kept changing while cliptagger undid it"))
    return False


def _undo_entry_once(entry: JournalEntry, force: bool, report: UndoReport) -> bool:
    try:
        current = snapshot(entry.path)
    except OSError as err:
        report.skipped.append((entry.path, f"cannot read: {err.strerror or err}"))
        return False
    if entry.embedded:
        try:
            return undo_embedded(entry, current, report, force)
        except FileChanged:
            raise
        except OSError as err:
            report.skipped.append((entry.path, f"cannot restore: {err.strerror or err}"))
            return False
    try:
        if current.exists and current.sha256 == entry.written_sha256:
            if entry.prior is None:
                _remove_if_unchanged(current)
                report.removed.append(entry.path)
            else:
                replace_if_unchanged(current, entry.prior)
                report.restored.append(entry.path)
            return True
        if (current.sha256 or None) == entry.prior_sha256:
            report.not_written.append(entry.path)  # never written, or already as before
            return True
        if not current.exists:
            if not force:
                report.skipped.append((entry.path, "deleted since cliptagger wrote it; left as it is"))
                return False
            if entry.prior is None:
                report.not_written.append(entry.path)
                return True
            replace_if_unchanged(current, entry.prior)
            report.restored.append(entry.path)
            return True
        if not force:
            report.skipped.append((entry.path, "changed since cliptagger wrote it; left as it is"))
            return False
        merged = _without_our_keywords(entry, current.data or b"")
        if merged is None:
            report.nothing_left.append(entry.path)
        else:
            replace_if_unchanged(current, merged)
            report.merged.append(entry.path)
        return True
    except FileChanged:
        raise
    except _MergeRefused as err:
        report.skipped.append((entry.path, str(err)))
        return False
    except OSError as err:
        report.skipped.append((entry.path, f"cannot restore: {err.strerror or err}"))
        return False


class _MergeRefused(Exception):
    pass


def _owned_keywords(data: Optional[bytes], source: str) -> list[str]:
    """The keywords a sidecar records as cliptagger's own."""

    if data is None:
        return []
    # The record lists each property's entries (``dog`` in dc:subject, ``Animals|dog`` in the
    # hierarchical ones): one keyword, named once, in its hierarchical form where it has one.
    return union_keywords(read_keywords(parse_xmp(data, source)).auto)


def _without_our_keywords(entry: JournalEntry, current: bytes) -> Optional[bytes]:
    """Three-way merge: ``current`` minus what this batch added, plus what it replaced.

    The user's later edits (their keywords, captions, ratings, ...) stay: only keywords
    cliptagger's own record lists are touched. None: nothing to change.
    """

    source = str(entry.path)
    try:
        owned_now = _owned_keywords(current, source)
        if not owned_now and entry.added is not None and entry.removed is not None:
            # another program dropped cliptagger's record: the journal's own list says what was ours
            return without_listed_keywords(current, entry.added, entry.removed, source)
        if entry.added is None or entry.removed is None:  # an old journal: derive from the prior bytes
            owned_before = _owned_keywords(entry.prior, source + " (journal)")
            before = {fold(k) for k in owned_before}
            added = [k for k in owned_now if fold(k) not in before]
            removed = [k for k in owned_before if fold(k) not in {fold(o) for o in owned_now}]
        else:
            added, removed = entry.added, entry.removed
        added_folded = {fold(k) for k in added}
        keep = [k for k in owned_now if fold(k) not in added_folded] + list(removed)
        data, _outcome = updated_sidecar(current, keep, source=source, replace_previous_auto=True)
    except XmpError as err:
        raise _MergeRefused(f"changed since cliptagger wrote it and cannot be read now: {err}") from None
    return data


def _remove_if_unchanged(current: Snapshot) -> None:
    """Delete a file we created, unless another program changed it in the last instant."""
    target = current.target
    aside = target.with_name(f".{target.name}.undo-{os.getpid()}.tmp")
    try:
        os.rename(target, aside)  # take it away atomically, then look at what we took
    except FileNotFoundError:
        raise FileChanged(f"{current.path} was deleted meanwhile") from None
    try:
        ok = sha256(aside.read_bytes()) == current.sha256
    except OSError:
        ok = False
    if not ok:
        try:
            os.link(aside, target)  # give it back, unless something new is there already
        except FileExistsError:
            pass
        os.unlink(aside)
        raise FileChanged(f"{current.path} changed meanwhile")
    os.unlink(aside)
    _fsync_folder(target.parent)


def _settle_batch(batch: Path, kept: list[JournalEntry], report: UndoReport) -> None:
    """Move the batch out of the way; what was left alone goes to ``<sequence>.held``."""
    sequence = f"{batch_sequence(batch):0{SEQUENCE_DIGITS}d}" if batch_sequence(batch) else batch.name.split(".", 1)[0]
    held = batch.with_name(sequence + HELD_SUFFIX)
    if kept:
        kept_keys = {(e.id, os.fsencode(e.path)) for e in kept}
        kept_records = []
        records = batch_records(batch)
        # only lines that passed the integrity check: signing again must not launder a planted one
        for record, trusted in zip(records, trusted_lines(batch, records)[0]):
            if not trusted:
                continue
            record = {k: v for k, v in record.items() if k != MAC_FIELD}
            entry = entry_from_record(record) if ("path" in record or "path_bytes" in record) else None
            if entry is None and "batch" in record:
                kept_records.append(record)
            elif entry is not None and (entry.id, os.fsencode(entry.path)) in kept_keys:
                kept_records.append(record)
        try:
            key = load_key(batch.parent)
        except JournalKeyError:
            key = None  # then unsigned, and refused by undo: nothing it names is touched
        if key is not None:  # signed again: the chain of the lines that stay
            signer = Signer(key.secret)
            kept_records = [signer.sign({**r, "version": JOURNAL_VERSION} if "batch" in r else r)
                            for r in kept_records]
        lines = [json.dumps(r, ensure_ascii=True) for r in kept_records]
        atomic_write_bytes(held, ("\n".join(lines) + "\n").encode("ascii"))
        report.held = held
    elif batch.suffix == HELD_SUFFIX:
        os.replace(held, held.with_name(sequence + ".held-undone"))
    if batch.suffix == PENDING_SUFFIX:
        os.replace(batch, batch.with_name(sequence + ".undone"))
    _fsync_folder(batch.parent)
