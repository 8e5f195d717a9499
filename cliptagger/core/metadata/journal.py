"""The undo journal: every sidecar write batch can be taken back, byte for byte.

Write-ahead: before a sidecar is replaced, a line with its prior bytes (or "did not
exist"), the hash of those bytes (pre-image), the hash of what will be written
(post-image) and the keywords this write adds and removes goes to the batch's journal
file and is fsync'd. A write that then fails is marked abandoned.

Batches are files ``<sequence>.jsonl`` in ``<data dir>/journal``, numbered in order (not by
the clock). Undo takes the newest pending batch and, per file, newest first:

* the file holds what we wrote (post-image)        -> prior bytes restored / created file removed
* the file holds the prior bytes (pre-image)        -> never written (killed, disk full): nothing to do
* anything else: changed since cliptagger wrote it  -> left alone, and kept for ``undo --force``

The files left alone are kept as ``<sequence>.held``: a later ``undo`` goes on to older
batches (a partial undo never hides them), and ``undo --force`` takes the newest batch,
pending or held. On a changed file ``--force`` is a three-way merge (the prior bytes, what
we wrote, what is there now): only the keywords this batch added are taken out (and the
ones it replaced put back); everything the user did after our write stays.

Lines are tolerated wherever they are cut or damaged (a crash mid-append): such a line
describes a write that never happened, because the sidecar is only replaced after its
journal line is on disk.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from cliptagger.core.metadata.containment import undo_target_problem
from cliptagger.core.metadata.journal_integrity import (
    MAC_FIELD,
    JournalKeyError,
    Signer,
    load_key,
    verify_chain,
    writing_key,
)
from cliptagger.core.metadata.xmp import fold, read_keywords, union_keywords, updated_sidecar
from cliptagger.core.metadata.xmp_document import XmpError, parse_xmp
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import (
    FileChanged,
    Snapshot,
    _fsync_folder,
    atomic_write_bytes,
    replace_if_unchanged,
    sha256,
    snapshot,
)
from cliptagger.core.storage.locks import LockTimeout, sidecar_lock

JOURNAL_VERSION = 3  # 3: every line signed (journal_integrity); 2: unsigned
PENDING_SUFFIX = ".jsonl"
HELD_SUFFIX = ".held"


def journal_dir() -> Path:
    return paths.data_dir() / "journal"


@dataclass
class JournalEntry:
    path: Path
    prior: Optional[bytes]   # None: the file did not exist
    written_sha256: str
    prior_sha256: Optional[str] = None
    #: Keywords this write introduced / took out (None: an old journal that did not say).
    added: Optional[list[str]] = None
    removed: Optional[list[str]] = None
    id: int = -1

    def __post_init__(self) -> None:
        if self.prior_sha256 is None and self.prior is not None:
            self.prior_sha256 = sha256(self.prior)


class WriteBatch:
    """Opened before a batch of writes; ``record`` before each file is replaced."""

    def __init__(self, description: str = "") -> None:
        folder = journal_dir()
        folder.mkdir(parents=True, exist_ok=True)
        key = writing_key(folder, newest_batch=max((_sequence(p) for p in folder.iterdir()), default=0))
        self._signer = Signer(key.secret)
        self.path, self._fd = _create_batch_file(folder)
        self._broken_line = False
        self.count = 0
        self._next_id = 0
        try:
            self._write({"batch": description, "started": time.time(), "version": JOURNAL_VERSION})
        except OSError:
            os.close(self._fd)
            self.path.unlink(missing_ok=True)
            raise
        _fsync_folder(folder)  # the batch file itself survives a crash

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(self._signer.sign(record), ensure_ascii=True) + "\n"
        if self._broken_line:
            line = "\n" + line  # never glue a record onto a line a failed write cut short
        data = line.encode("ascii")
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError:
            self._broken_line = True
            raise
        self._broken_line = False

    def record(self, path: Path, prior: Optional[bytes], new: bytes,
               added: Iterable[str] = (), removed: Iterable[str] = ()) -> int:
        """Log the write about to happen; returns its id (for ``abandon``)."""
        entry_id = self._next_id
        self._write({
            "id": entry_id,
            "path": os.fsdecode(os.fsencode(path)),
            "path_bytes": base64.b64encode(os.fsencode(path)).decode("ascii"),
            "prior": base64.b64encode(prior).decode("ascii") if prior is not None else None,
            "prior_sha256": sha256(prior) if prior is not None else None,
            "written_sha256": sha256(new),
            "added": list(added),
            "removed": list(removed),
        })
        self._next_id += 1
        self.count += 1
        return entry_id

    def abandon(self, entry_id: int) -> None:
        """The logged write did not happen (the file changed meanwhile, or the write failed)."""
        try:
            self._write({"abandoned": entry_id})
        except OSError:
            pass  # the pre-image hash still tells undo that this write never happened
        self.count -= 1

    def close(self) -> None:
        if self._fd < 0:
            return
        os.close(self._fd)
        self._fd = -1
        if self.count == 0:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "WriteBatch":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _sequence(path: Path) -> int:
    """A batch's position in the journal; files from before sequence numbers count as 0."""
    head = path.name.split(".", 1)[0]
    return int(head) if head.isdigit() and len(head) == SEQUENCE_DIGITS else 0


SEQUENCE_DIGITS = 12


def _create_batch_file(folder: Path) -> tuple[Path, int]:
    """Open a new batch file numbered after every batch so far (pending, held or undone).

    The number, not the clock, orders batches: two batches in one second, or a clock
    that steps back, still undo newest first. ``O_EXCL`` settles a race between writers.
    """
    while True:
        newest = max((_sequence(p) for p in folder.iterdir()), default=0)
        path = folder / f"{newest + 1:0{SEQUENCE_DIGITS}d}{PENDING_SUFFIX}"  # the number alone: O_EXCL must see a clash
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            continue
        return path, fd


def _batches(suffix: str) -> list[Path]:
    folder = journal_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*{suffix}"), key=lambda p: (_sequence(p), p.name))


def list_batches() -> list[Path]:
    """Batches that ``undo`` can still take back, oldest first."""
    return _batches(PENDING_SUFFIX)


def held_batches() -> list[Path]:
    """What partial undos left (files changed since our write), oldest first: ``undo --force``."""
    return _batches(HELD_SUFFIX)


def _records(path: Path) -> list[dict[str, Any]]:
    """Every intact JSON object line of a batch file; cut or damaged lines are skipped."""
    records = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # a line cut by a crash: the write after it never happened
        if isinstance(record, dict):
            records.append(record)
    return records


def _entry(record: dict[str, Any]) -> Optional[JournalEntry]:
    try:
        if "path_bytes" in record:
            path = Path(os.fsdecode(base64.b64decode(record["path_bytes"])))
        else:
            path = Path(record["path"])
        prior = base64.b64decode(record["prior"]) if record.get("prior") is not None else None
        return JournalEntry(path, prior, str(record["written_sha256"]), record.get("prior_sha256"),
                            record.get("added"), record.get("removed"), int(record.get("id", -1)))
    except (KeyError, TypeError, ValueError):
        return None


def read_batch(path: Path) -> list[JournalEntry]:
    """The writes of a batch that undo may take back, in order, without the ones marked
    abandoned (``checked_batch`` also says which lines were refused, and why)."""
    return checked_batch(path)[0]


def checked_batch(path: Path) -> tuple[list[JournalEntry], list[tuple[Path, str]]]:
    """(entries undo may take back, (path, why) of entries refused: not cliptagger's own
    line, or naming a file cliptagger never writes)."""
    records = _records(path)
    trusted, why_not = _trust(path, records)
    abandoned = {r["abandoned"] for r, ok in zip(records, trusted) if ok and "abandoned" in r}
    entries, refused = [], []
    for record, ok in zip(records, trusted):
        if "path" not in record and "path_bytes" not in record:
            continue
        entry = _entry(record)
        if entry is None:
            continue
        problem = why_not if not ok else undo_target_problem(entry.path)
        if problem:
            refused.append((entry.path, f"refused: {problem}"))
        elif not (entry.id >= 0 and entry.id in abandoned):
            entries.append(entry)
    return entries, refused


def _trust(batch: Path, records: list[dict[str, Any]]) -> tuple[list[bool], str]:
    """Which records are cliptagger's own, and what to say of the others."""
    try:
        key = load_key(batch.parent)
    except JournalKeyError as err:
        return [False] * len(records), str(err)
    signed = any(r.get("version", 0) >= 3 for r in records if "batch" in r and isinstance(r.get("version"), int))
    if signed or (key is not None and _sequence(batch) > key.legacy_until):
        why = "the journal line fails its integrity check (not written by cliptagger, or edited since)"
        return verify_chain(records, key.secret if key is not None else None), why
    return [True] * len(records), ""  # a batch from before signing: containment alone


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


def undo_last_batch(force: bool = False) -> UndoReport:
    """Undo the newest pending batch (with ``force``: the newest pending or held one)."""
    while True:
        candidates = list_batches() + (held_batches() if force else [])
        if not candidates:
            return UndoReport([], [], [], None)
        batch = max(candidates, key=lambda p: (_sequence(p), p.suffix == HELD_SUFFIX))
        entries, refused = checked_batch(batch)
        if entries or refused:
            break
        # A run killed before its first write left an empty batch: it must not use up an undo.
        _settle_batch(batch, [], UndoReport([], [], [], batch))
    report = UndoReport([], [], [], batch, refused=refused)
    kept: list[JournalEntry] = []
    # Newest first, so that a file written twice in one batch ends at its first prior.
    for entry in reversed(entries):
        if not _undo_entry(entry, force, report):
            kept.append(entry)
    _settle_batch(batch, kept, report)
    return report


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
        if merged is not None:
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
    sequence = f"{_sequence(batch):0{SEQUENCE_DIGITS}d}" if _sequence(batch) else batch.name.split(".", 1)[0]
    held = batch.with_name(sequence + HELD_SUFFIX)
    if kept:
        kept_keys = {(e.id, os.fsencode(e.path)) for e in kept}
        kept_records = []
        records = _records(batch)
        # only lines that passed the integrity check: signing again must not launder a planted one
        for record, trusted in zip(records, _trust(batch, records)[0]):
            if not trusted:
                continue
            record = {k: v for k, v in record.items() if k != MAC_FIELD}
            entry = _entry(record) if ("path" in record or "path_bytes" in record) else None
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


def describe(batch: Path) -> str:
    """``<sequence>  <when>  N sidecar(s) in FOLDER  <what wrote them>`` (held: left alone by a partial undo)."""
    entries = read_batch(batch)
    header = next((r for r in _records(batch) if "batch" in r), {})
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(header["started"])) if header.get("started") else "?"
    folders = sorted({str(e.path.parent) for e in entries})
    where = folders[0] if len(folders) == 1 else f"{len(folders)} folders" if folders else "no folder"
    what = f"  ({header['batch']})" if header.get("batch") else ""
    state = "  [left alone by a partial undo; `undo --force` removes only cliptagger's keywords]" \
        if batch.suffix == HELD_SUFFIX else ""
    return f"{batch.name.split('.', 1)[0]}  {when}  {len(entries)} sidecar(s) in {where}{what}{state}"


__all__ = [
    "JournalEntry",
    "UndoReport",
    "WriteBatch",
    "held_batches",
    "journal_dir",
    "list_batches",
    "read_batch",
    "undo_last_batch",
]
