"""How much undo history the journal keeps, and pruning it to that.

Every sidecar write leaves a batch file with the prior bytes of each sidecar (about 9.5 MiB
for a 20,000-photo write); undone batches stay as ``.undone``. Without a bound the journal
grows forever. After each batch is recorded, ``prune`` removes, oldest first:

1. batches already undone (``.undone``, ``.held-undone``): nothing can use them any more;
2. then the oldest batches that could still be undone (``.jsonl``, ``.held``),

until at most ``max_batches`` files and ``max_bytes`` remain. The newest undoable batch is
never removed (the user's last write stays undoable whatever its size), nor any file that is
not a regular file named as the journal names its batches, inside the journal folder: the
journal is our own state and untrusted input; a planted link or name is left alone.

Defaults: 100 batches / 256 MiB, about 25 full writes of a 20,000-photo library, and far more
small ones. ``CLIPTAGGER_JOURNAL_MAX_BATCHES`` and ``CLIPTAGGER_JOURNAL_MAX_MB`` change them.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cliptagger.core.metadata.journal import HELD_SUFFIX, PENDING_SUFFIX, journal_dir

UNDONE_SUFFIXES = (".undone", ".held-undone")
LIVE_SUFFIXES = (PENDING_SUFFIX, HELD_SUFFIX)
#: What the journal itself names its batch files: a 12-digit sequence and a known suffix.
_BATCH_NAME = re.compile(r"^(\d{12})(\.jsonl|\.held|\.undone|\.held-undone)$")


@dataclass(frozen=True)
class JournalRetention:
    max_batches: int = 100
    max_bytes: int = 256 * 2**20

    @staticmethod
    def from_environment() -> "JournalRetention":
        """The defaults, or what ``CLIPTAGGER_JOURNAL_MAX_BATCHES`` / ``..._MAX_MB`` say (ignored
        when they are not positive whole numbers)."""
        def number(name: str, default: int) -> int:
            text = os.environ.get(name, "")
            return int(text) if text.isdigit() and int(text) > 0 else default
        default = JournalRetention()
        return JournalRetention(number("CLIPTAGGER_JOURNAL_MAX_BATCHES", default.max_batches),
                                number("CLIPTAGGER_JOURNAL_MAX_MB", default.max_bytes // 2**20) * 2**20)


@dataclass(frozen=True)
class JournalFile:
    path: Path
    sequence: int
    suffix: str
    size: int

    @property
    def undone(self) -> bool:
        return self.suffix in UNDONE_SUFFIXES


def journal_files(folder: Optional[Path] = None) -> list[JournalFile]:
    """The journal's own batch files, oldest first (regular files only; links and other names
    are not ours and are never counted or removed)."""
    folder = folder or journal_dir()
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _BATCH_NAME.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append(JournalFile(Path(entry.path), int(match.group(1)), match.group(2), info.st_size))
    return sorted(found, key=lambda f: (f.sequence, f.suffix))


@dataclass(frozen=True)
class JournalUsage:
    batches: int
    bytes: int
    policy: JournalRetention

    def describe(self) -> str:
        return (f"journal: {self.batches} batch file(s), {self.bytes / 2**20:.1f} MiB; keeps at most "
                f"{self.policy.max_batches} / {self.policy.max_bytes / 2**20:.0f} MiB (undone batches go first)")


def usage(policy: Optional[JournalRetention] = None) -> JournalUsage:
    files = journal_files()
    return JournalUsage(len(files), sum(f.size for f in files), policy or JournalRetention.from_environment())


def prune(policy: Optional[JournalRetention] = None) -> list[Path]:
    """Remove batch files until the journal fits ``policy``; returns what was removed.
    Never raises: a file that cannot be removed is left, and the next batch tries again."""
    policy = policy or JournalRetention.from_environment()
    files = journal_files()
    live = [f for f in files if not f.undone]
    newest = max((f.sequence for f in live if f.suffix == PENDING_SUFFIX), default=None)
    # the highest number stays too: new batches are numbered after it, so a pruned number is
    # never reused (a reused one could meet an older .held file of the same number)
    highest = max((f.sequence for f in files), default=None)
    kept = {newest, highest}
    candidates = [f for f in files if f.undone and f.sequence not in kept] + \
                 [f for f in live if f.sequence not in kept]
    count, size = len(files), sum(f.size for f in files)
    removed = []
    for candidate in candidates:
        if count <= policy.max_batches and size <= policy.max_bytes:
            break
        try:
            candidate.path.unlink()
        except OSError:
            continue
        removed.append(candidate.path)
        count, size = count - 1, size - candidate.size
    return removed
