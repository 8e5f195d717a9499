"""Writing keywords into the photos themselves (an opt-in), as safely as into sidecars.

Per photo, under the same inter-process lock as a sidecar write:

1. read the photo (``snapshot``: its bytes and identity) and copy those bytes to a sibling
   temp file, so everything below works on exactly what was read;
2. read its XMP packet (and IPTC/XPKeywords) through ExifTool; merge our keywords with the same
   code and ownership rules as sidecars (``xmp.updated_sidecar``: a keyword is ours only if
   cliptagger added it; dc:subject, lr:hierarchicalSubject and digiKam:TagsList in step);
3. ExifTool writes the new packet (and the legacy lists the file already has) into a second
   sibling temp file (``-o``);
4. that file is verified: its packet read back holds the merged keywords, its image data is
   unchanged (decoded pixels; for JPEG also the bytes from the start of scan to the end) and
   every metadata tag we do not own reads the same; any difference: the photo is left untouched;
5. the undo journal records a delta that rebuilds the original from the new file (bounded by
   the metadata's size, see ``undo_delta``) and both hashes; then the new file takes the
   photo's permissions (and, by default, its modification time) and replaces it by
   compare-and-swap: if another program changed the photo meanwhile, nothing is replaced and
   the photo is read again and merged anew.

Dry run: steps 1-2 only. Formats: ``embedded_checks``. Proprietary raw files never: they keep
a sidecar.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

from cliptagger.core.metadata.embedded_checks import (
    EmbedFormat,
    embed_format,
    foreign_metadata,
    metadata_differences,
    same_image_data,
)
from cliptagger.core.metadata.embedded_io import (
    EmbeddedReadError,
    legacy_arguments,
    plan_legacy,
    read_legacy,
    read_packet,
    scratch_folder,
    xmp_arguments,
)
from cliptagger.core.metadata.exiftool_process import ExifTool, ExifToolFailed, ExifToolUnavailable, shared_exiftool
from cliptagger.core.metadata.journal import WriteBatch
from cliptagger.core.metadata.journal_retention import prune as prune_journal
from cliptagger.core.metadata.rdf_arrays import property_values
from cliptagger.core.metadata.sidecars import WriteReport
from cliptagger.core.metadata.undo_delta import make_delta
from cliptagger.core.metadata.xmp import DC_SUBJECT, fold, read_keywords, union_keywords, updated_sidecar
from cliptagger.core.metadata.xmp_document import XmpError, parse_xmp
from cliptagger.core.storage.fileio import (
    FileChanged,
    Snapshot,
    marked_read_only,
    replace_with_file_if_unchanged,
    snapshot,
    write_target,
)
from cliptagger.core.storage.locks import LockTimeout, sidecar_lock
from cliptagger.core.storage.text_rules import keyword_problem, shown

#: Photos larger than this are not rewritten (they are read whole, twice).
MAX_PHOTO_BYTES = 1 << 30
#: The undo journal's cost per photo is bounded: a write whose delta would be larger is refused.
MAX_DELTA_BYTES = 4 << 20
WRITE_ATTEMPTS = 5
#: Our temp files next to a photo: ``.NAME.<random>.embed.tmp``.
TEMP_SUFFIX = ".embed.tmp"
_TEMP_PATTERN = re.compile(r"^\..+\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX) + "$", re.IGNORECASE)


class XmpTarget(str, Enum):
    """Where accepted keywords go: sidecars (the default), the photos themselves, or both."""

    SIDECAR = "sidecar"
    EMBEDDED = "embedded"
    BOTH = "both"

    @property
    def sidecars(self) -> bool:
        return self in (XmpTarget.SIDECAR, XmpTarget.BOTH)

    @property
    def embedded(self) -> bool:
        return self in (XmpTarget.EMBEDDED, XmpTarget.BOTH)


@dataclass
class EmbedOptions:
    dry_run: bool = False
    description: str = ""
    #: Keep each photo's modification time (the default: many viewers and backups sort or
    #: select by it, and a keyword is not a new photo); off: the time of the write.
    preserve_mtime: bool = True
    #: HEIC/AVIF are written into only with their own opt-in.
    allow_heif: bool = False


class _Refused(Exception):
    """This photo is left untouched, for the reason given."""


def write_embedded(assignments: Mapping[Path, Sequence[str]], options: Optional[EmbedOptions] = None,
                   exiftool: Optional[ExifTool] = None) -> WriteReport:
    """Merge each photo's keywords into its own metadata. One bad photo never stops the rest.

    ``WriteReport.written`` lists photos (not sidecars). Without ExifTool every photo fails
    with one clear message."""
    options = options or EmbedOptions()
    report = WriteReport()
    try:
        tool = exiftool or shared_exiftool()
        tool.execute("-ver")
    except (ExifToolUnavailable, ExifToolFailed) as err:
        report.failed.extend((Path(p), str(err)) for p in assignments)
        report.failed_images.update(report.failed)
        return report
    try:
        batch = None if options.dry_run else WriteBatch(options.description)
    except OSError as err:
        reason = f"cannot write the undo journal, so no photo was touched: {err.strerror or err}"
        report.failed.extend((Path(p), reason) for p in assignments)
        report.failed_images.update(report.failed)
        return report
    try:
        if not options.dry_run:
            for folder in {Path(p).parent for p in assignments}:
                remove_stale_embed_temps(folder)
        for photo, keywords in assignments.items():
            _embed_one(Path(photo), _checked_keywords(Path(photo), keywords, report), report, batch, options, tool)
    finally:
        report.failed_images.update(report.failed)
        if batch is not None:
            batch.close()
            report.journal = batch.path if batch.count else None
            if batch.count:
                prune_journal()
    return report


def _checked_keywords(photo: Path, keywords: Sequence[str], report: WriteReport) -> list[str]:
    kept = []
    for keyword in keywords:
        problem = keyword_problem(keyword)
        if problem:
            report.warnings.append(f"{photo.name}: keyword '{shown(keyword)}' not written: {problem}")
        else:
            kept.append(keyword)
    return kept


def _embed_one(photo: Path, keywords: list[str], report: WriteReport, batch: Optional[WriteBatch],
               options: EmbedOptions, tool: ExifTool) -> None:
    try:
        with sidecar_lock(photo):
            for _attempt in range(WRITE_ATTEMPTS):
                try:
                    _attempt_write(photo, keywords, report, batch, options, tool)
                    return
                except FileChanged:
                    continue  # another program wrote the photo meanwhile: merge into its version
                except _Refused as err:
                    report.failed.append((photo, str(err)))
                    return
                except ExifToolFailed as err:
                    report.failed.append((photo, f"{err}; the photo is untouched"))
                    return
                except OSError as err:  # e.g. the disk filled while the temp copy was written
                    report.failed.append((photo, f"cannot write next to it: {err.strerror or err}; "
                                                 "the photo is untouched"))
                    return
    except LockTimeout as err:
        report.failed.append((photo, f"{err}; not written"))
        return
    report.failed.append((photo, f"it kept changing while cliptagger wrote it ({WRITE_ATTEMPTS} tries); "
                                 "left as the other program wrote it"))


def _read_photo(photo: Path, options: EmbedOptions) -> tuple[Snapshot, EmbedFormat]:
    if not os.path.isfile(photo):
        raise _Refused("the photo is no longer there (deleted or renamed since it was tagged)")
    # absolute and normalised: the journal (and undo's containment rule) needs it, and a relative
    # name starting with "-" would read to ExifTool as an option
    target = Path(os.path.abspath(write_target(photo)))
    try:
        with open(target, "rb") as handle:
            head = handle.read(16)
    except OSError as err:
        raise _Refused(f"cannot read the photo: {err.strerror or err}") from None
    fmt, why = embed_format(target, head, options.allow_heif)
    if fmt is None:
        raise _Refused(why)
    if not options.dry_run:
        if marked_read_only(target):
            raise _Refused("the photo is read-only; left untouched")
        if marked_read_only(target.parent):
            raise _Refused(f"the folder {target.parent} is read-only; the photo cannot be replaced safely")
    try:
        before = snapshot(target, max_bytes=MAX_PHOTO_BYTES)
    except ValueError:
        raise _Refused("the photo is larger than 1 GiB; not rewritten") from None
    except OSError as err:
        raise _Refused(f"cannot read the photo: {err.strerror or err}") from None
    return before, fmt


#: The keywords to merge, or how to work them out from the photo's current packet (undo --force).
Keywords = Union[Sequence[str], Callable[[Optional[bytes]], list[str]]]


def _attempt_write(photo: Path, keywords: Keywords, report: WriteReport, batch: Optional[WriteBatch],
                   options: EmbedOptions, tool: ExifTool) -> None:
    """One read-merge-verify-replace; ``batch`` None (and no dry run): not journaled (undo's own merge)."""
    before, fmt = _read_photo(photo, options)
    assert before.data is not None
    target = before.target
    temps: list[str] = []
    try:
        source = _sibling_temp(target, before.data, temps)  # exactly the bytes read: no race with ExifTool
        try:
            packet = read_packet(tool, Path(source))
            legacy = read_legacy(tool, Path(source))
        except EmbeddedReadError as err:
            raise _Refused(f"its metadata cannot be read ({err}); left untouched") from None
        label = f"the XMP inside {photo.name}"
        try:
            wanted = keywords(packet) if callable(keywords) else keywords
            new_packet, outcome = updated_sidecar(packet, wanted, source=label)
        except XmpError as err:
            raise _Refused(f"{err} (nothing written into the photo)") from None
        merged = new_packet if new_packet is not None else packet
        subject = property_values(parse_xmp(merged, label), DC_SUBJECT) if merged else []
        plan = plan_legacy(legacy, outcome, subject, photo.name)
        report.warnings.extend(plan.messages)
        if new_packet is None and not plan.changes:
            report.unchanged.append(photo)
            report.images_saved.append(photo)
            return
        if options.dry_run:
            report.written.append(photo)
            report.changes[photo] = outcome
            return
        assert merged is not None
        written = _write_temp_copy(tool, target, Path(source), merged, fmt, legacy_arguments(plan), temps)
        new_data = _verified(tool, Path(source), before.data, Path(written), merged, fmt)
        delta = make_delta(before.data, new_data)
        if len(delta) > MAX_DELTA_BYTES:
            raise _Refused(f"undoing this write would need {len(delta) // 1024} KiB of journal (more than the "
                           f"{MAX_DELTA_BYTES >> 20} MiB allowed per photo); left untouched")
        _finish_file(written, target, before, options.preserve_mtime)
        entry = None
        try:
            if batch is not None:
                entry = batch.record_embedded(target, delta, before.sha256, _sha256(new_data), before.mtime_ns,
                                              added=outcome.added, removed=outcome.removed)
        except OSError as err:
            raise _Refused(f"cannot write the undo journal, so the photo was left alone: {err.strerror or err}") from None
        try:
            replace_with_file_if_unchanged(before, written)
        except FileChanged:
            if batch is not None and entry is not None:
                batch.abandon(entry)
            raise
        except OSError as err:
            if batch is not None and entry is not None:
                batch.abandon(entry)
            raise _Refused(f"cannot replace the photo: {err.strerror or err}; left untouched") from None
        report.written.append(photo)
        report.changes[photo] = outcome
        report.images_saved.append(photo)
    finally:
        for name in temps:
            _unlink_quietly(name)


def take_out_keywords(photo: Path, added: Sequence[str], removed: Sequence[str],
                      exiftool: Optional[ExifTool] = None) -> tuple[str, str]:
    """``undo --force`` on a photo changed since cliptagger wrote into it: a three-way merge.
    The keywords that write added come out, the ones it replaced go back; everything else
    (the user's later edits) stays. Called under the photo's lock; ``FileChanged`` propagates.
    Returns ("merged" | "nothing" | "refused", why)."""
    taken_out = {fold(k) for k in added}

    def keep(packet: Optional[bytes]) -> list[str]:
        owned = union_keywords(read_keywords(parse_xmp(packet, photo.name)).auto) if packet else []
        return [k for k in owned if fold(k) not in taken_out] + list(removed)

    report = WriteReport()
    try:
        _attempt_write(photo, keep, report, None, EmbedOptions(), exiftool or shared_exiftool())
    except (_Refused, ExifToolFailed, ExifToolUnavailable) as err:
        return "refused", str(err)
    return ("merged", "") if report.written else ("nothing", "")


def _sibling_temp(target: Path, data: Optional[bytes], temps: list[str]) -> str:
    """A new temp file next to ``target`` (same file system: the final rename is atomic),
    holding ``data``, or, with None, a free name for ExifTool to create (``-o`` refuses to overwrite)."""
    prefix = "." + target.name[:150] + "."
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=target.parent)
    temps.append(name)
    with os.fdopen(fd, "wb") as handle:
        if data is not None:
            handle.write(data)
    if data is None:
        os.unlink(name)
    return name


def _write_temp_copy(tool: ExifTool, target: Path, source: Path, packet: bytes, fmt: EmbedFormat,
                     legacy: list[str], temps: list[str]) -> str:
    fd, packet_file = tempfile.mkstemp(prefix="packet-", suffix=".xmp", dir=scratch_folder())
    temps.append(packet_file)
    with os.fdopen(fd, "wb") as handle:
        handle.write(packet)
    output = _sibling_temp(target, None, temps)
    reply = tool.execute("-o", output, *xmp_arguments(Path(packet_file), len(packet), fmt), *legacy, str(source))
    if reply.errors or not os.path.exists(output):
        raise _Refused("ExifTool could not write into a copy of it: "
                       + ("; ".join(reply.errors) or reply.stderr.strip() or "no file written") + "; left untouched")
    return output


def _verified(tool: ExifTool, source: Path, original: bytes, written: Path, packet: bytes, fmt: EmbedFormat) -> bytes:
    """The written copy's bytes, after checking it; ``_Refused`` on any difference."""
    new_data = written.read_bytes()
    try:
        same_pixels = same_image_data(original, new_data, fmt)
    except Exception as err:  # Pillow raises many types for undecodable data
        raise _Refused(f"its image data cannot be decoded to check the write ({err}); left untouched") from None
    if not same_pixels:
        raise _Refused("ExifTool's copy changed the image data; left untouched")
    try:
        read_back = read_packet(tool, written)
        if read_back is None:
            raise _Refused("the copy written by ExifTool holds no XMP; left untouched")
        wanted = read_keywords(parse_xmp(packet, "merged XMP"))
        found = read_keywords(parse_xmp(read_back, "XMP read back"))
    except (EmbeddedReadError, XmpError) as err:
        raise _Refused(f"the copy written by ExifTool cannot be read back ({err}); left untouched") from None
    if found != wanted:
        raise _Refused("the keywords read back from ExifTool's copy differ from those written; left untouched")
    try:
        differences = metadata_differences(foreign_metadata(tool, source), foreign_metadata(tool, written))
    except ValueError as err:
        raise _Refused(f"{err}; left untouched") from None
    if differences:
        raise _Refused("writing the keywords would also change other metadata ("
                       + ", ".join(differences[:5]) + "); left untouched")
    return new_data


def _finish_file(name: str, target: Path, before: Snapshot, preserve_mtime: bool) -> None:
    """The photo's permission bits (and time) on the new file, flushed to disk."""
    info = os.stat(target)
    os.chmod(name, stat.S_IMODE(info.st_mode))
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if preserve_mtime:
        os.utime(name, ns=(info.st_atime_ns, before.mtime_ns))


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _unlink_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError as err:
        if err.errno != errno.ENOENT:
            pass


def remove_stale_embed_temps(folder: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Delete our temp copies of photos that a killed run left (ours, and old, only)."""
    removed = []
    cutoff = time.time() - older_than_s
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        if not _TEMP_PATTERN.match(name):
            continue
        candidate = folder / name
        try:
            info = os.lstat(candidate)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                candidate.unlink()
                removed.append(candidate)
        except OSError:
            continue
    return removed
