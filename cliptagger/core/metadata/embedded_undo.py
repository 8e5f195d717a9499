"""Undo of a keyword write into a photo: the original bytes, rebuilt from the journal's delta.

The journal holds no copy of the photo, only ``undo_delta.make_delta(original, written)`` and
both SHA-256 hashes. The photo must still be exactly what cliptagger wrote (rebuilding from a
delta needs the exact bytes it was made against); a photo changed since is left alone, and
``undo --force`` then takes out only the keywords that write added (a three-way merge through
the embedded writer, with all its checks), as for sidecars. The rebuilt file must hash to the original's before it replaces the photo, by the
same compare-and-swap as every other write; its modification time is set back too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cliptagger.core.metadata.undo_delta import DeltaError, apply_delta
from cliptagger.core.storage.fileio import Snapshot, replace_if_unchanged, sha256

if TYPE_CHECKING:
    from cliptagger.core.metadata.journal import JournalEntry
    from cliptagger.core.metadata.undo import UndoReport


def undo_embedded(entry: "JournalEntry", current: Snapshot, report: "UndoReport", force: bool = False) -> bool:
    """Restore one photo; False when it stays (changed since, or the delta does not fit).
    ``force`` on a photo changed since: only the keywords that write added are taken out."""
    assert entry.delta is not None
    if not current.exists:
        report.skipped.append((entry.path, "the photo was deleted or moved since cliptagger wrote into it; "
                                           "nothing to restore"))
        return False
    if current.sha256 == entry.prior_sha256:
        report.not_written.append(entry.path)  # never replaced (killed, refused), or restored already
        return True
    if current.sha256 != entry.written_sha256:
        if force and entry.added is not None and entry.removed is not None:
            return _take_out(entry, report)
        report.skipped.append((entry.path, "the photo changed since cliptagger wrote into it; left as it is "
                                           "(`cliptagger undo --force` takes out only the keywords it added)"))
        return False
    try:
        original = apply_delta(entry.delta, current.data or b"")
    except DeltaError as err:
        report.skipped.append((entry.path, f"the journal's record of the original does not fit ({err}); left as it is"))
        return False
    if sha256(original) != entry.prior_sha256:
        report.skipped.append((entry.path, "the rebuilt original does not match its recorded hash; left as it is"))
        return False
    replace_if_unchanged(current, original)
    if entry.prior_mtime_ns is not None:
        try:
            info = os.stat(current.target)
            os.utime(current.target, ns=(info.st_atime_ns, entry.prior_mtime_ns))
        except OSError:
            pass  # the bytes are back; a time that cannot be set is no reason to fail
    report.restored.append(entry.path)
    return True


def _take_out(entry: "JournalEntry", report: "UndoReport") -> bool:
    from cliptagger.core.metadata.embedded import take_out_keywords

    result, why = take_out_keywords(entry.path, entry.added or [], entry.removed or [])
    if result == "refused":
        report.skipped.append((entry.path, f"changed since cliptagger wrote into it, and {why}"))
        return False
    (report.merged if result == "merged" else report.nothing_left).append(entry.path)
    return True
