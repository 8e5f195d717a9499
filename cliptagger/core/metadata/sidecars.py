"""Which sidecar belongs to an image, and writing keywords into sidecars safely.

Naming: ``IMG_1.CR2`` owns ``IMG_1.CR2.xmp`` (darktable, digiKam; our default) or
``IMG_1.xmp`` (Adobe style), found in any letter case. An existing one is updated; a new
one gets the chosen style. In Adobe style a RAW + JPEG pair shares ``IMG_1.xmp``: the
pair's keywords are merged into one write, and when a sharer is not part of the batch our
earlier automatic tags are kept rather than replaced, so one image never erases the
other's tags.

Every write is atomic, journaled for undo, refused for read-only files, made under an
inter-process lock and as a compare-and-swap (a change by another program meanwhile is
re-read and merged, never overwritten), and goes through symlinks to their target.
"""

from __future__ import annotations

import errno
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

from cliptagger.core.metadata.containment import SIDECAR_SUFFIX, sidecar_link_problem
from cliptagger.core.metadata.journal import WriteBatch
from cliptagger.core.metadata.journal_retention import prune as prune_journal
from cliptagger.core.metadata.sidecar_names import (
    FolderListing,
    SidecarStyle,
    existing_sidecars,
    siblings_sharing,
    sidecar_path,
)
from cliptagger.core.metadata.xmp import (
    MergeOutcome,
    fold,
    keywords_in_sidecar,
    read_keywords,
    union_keywords,
    updated_sidecar,
)
from cliptagger.core.metadata.xmp_document import MAX_SIDECAR_BYTES, XmpError, parse_xmp
from cliptagger.core.storage.fileio import (
    FileChanged,
    marked_read_only,
    read_bounded,
    remove_stale_temp_files,
    replace_if_unchanged,
    snapshot,
)
from cliptagger.core.storage.locks import LockTimeout, sidecar_lock
from cliptagger.core.storage.text_rules import keyword_form, keyword_problem, shown


@dataclass
class PlannedWrite:
    sidecar: Path
    images: list[Path]
    keywords: list[str]
    #: False when an image outside this batch shares the sidecar: add, never remove.
    replace_previous_auto: bool = True


@dataclass
class WriteReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Images whose sidecar now holds their keywords (written, or already up to date).
    images_saved: list[Path] = field(default_factory=list)
    journal: Optional[Path] = None
    #: What each written (or, in a dry run, would-be written) sidecar gains and loses.
    changes: dict[Path, MergeOutcome] = field(default_factory=dict)
    #: Each photo whose sidecar was not written, with why (``failed`` names the sidecars).
    failed_images: dict[Path, str] = field(default_factory=dict)


def plan_writes(assignments: Mapping[Path, Sequence[str]], style: SidecarStyle = SidecarStyle.EXT) -> tuple[list[PlannedWrite], list[str]]:
    listing = FolderListing()
    by_sidecar: dict[Path, list[Path]] = defaultdict(list)
    for image in assignments:
        by_sidecar[sidecar_path(Path(image), style, listing)].append(Path(image))
    plans, warnings = [], []
    batch_images = {Path(i) for i in assignments}
    for sidecar, images in by_sidecar.items():
        keywords: list[str] = []
        for image in images:
            keywords.extend(assignments[image])
        plan = PlannedWrite(sidecar, images, keywords)
        if len(images) > 1:
            warnings.append(f"{', '.join(i.name for i in images)} share the sidecar {sidecar.name}: "
                            "their tags are merged into it")
        is_adobe_name = sidecar.name.lower() == images[0].stem.lower() + SIDECAR_SUFFIX
        if is_adobe_name:
            outside = [s for i in images for s in siblings_sharing(i, listing) if s not in batch_images]
            if outside:
                plan.replace_previous_auto = False
                warnings.append(f"{sidecar.name} is shared with {', '.join(sorted({o.name for o in outside}))}, "
                                "which is not in this batch: tags are only added, none removed")
        plans.append(plan)
    return plans, warnings


def write_sidecars(
    assignments: Mapping[Path, Sequence[str]],
    style: SidecarStyle = SidecarStyle.EXT,
    dry_run: bool = False,
    description: str = "",
) -> WriteReport:
    """Merge each image's keywords into its sidecar. One bad sidecar never stops the rest."""
    assignments, gone, left_out = _writable(assignments)
    plans, warnings = plan_writes(assignments, style)
    report = WriteReport(warnings=list(warnings) + left_out, failed=gone)
    try:
        batch = None if dry_run else WriteBatch(description)
    except OSError as err:  # no undo journal, no write: the user must be able to take it back
        reason = f"cannot write the undo journal, so no sidecar was touched: {err.strerror or err}"
        report.failed.extend((plan.sidecar, reason) for plan in plans)
        return report
    if not dry_run:
        for folder in {plan.sidecar.parent for plan in plans}:
            remove_stale_temp_files(folder)  # left by a killed run (ours, and old, only)
    try:
        for plan in plans:
            _write_one(plan, report, batch, dry_run)
    finally:
        why = dict(report.failed)
        report.failed_images.update((image, why[image]) for image, _ in gone)
        report.failed_images.update((image, why[plan.sidecar]) for plan in plans if plan.sidecar in why
                                    for image in plan.images)
        if batch is not None:
            batch.close()
            report.journal = batch.path if batch.count else None
            if batch.count:
                prune_journal()  # bounded history: the oldest undone batches go first, never this one
    return report


def _writable(assignments: Mapping[Path, Sequence[str]]
              ) -> tuple[dict[Path, list[str]], list[tuple[Path, str]], list[str]]:
    """(the photos still there with the keywords that can be written, (photo, why) of photos
    gone, a warning per keyword left out). A photo deleted or renamed since it was tagged gets
    no (orphan) sidecar; a keyword that would make the sidecar invalid is left out and named."""
    kept: dict[Path, list[str]] = {}
    gone: list[tuple[Path, str]] = []
    left_out: list[str] = []
    for image, keywords in assignments.items():
        image = Path(image)
        if not os.path.isfile(image):
            gone.append((image, "the photo is no longer there (deleted or renamed since it was tagged); "
                                "no sidecar written"))
            continue
        kept[image] = []
        for keyword in keywords:
            problem = keyword_problem(keyword)
            if problem:
                left_out.append(f"{image.name}: keyword '{shown(keyword)}' not written: {problem}")
            else:
                kept[image].append(keyword)
    return kept, gone, left_out


def _write_one(plan: PlannedWrite, report: WriteReport, batch: Optional[WriteBatch], dry_run: bool) -> None:
    """Read, merge, replace if unchanged; on a concurrent change re-read and re-merge."""
    path = plan.sidecar
    try:
        with sidecar_lock(path):
            for _attempt in range(WRITE_ATTEMPTS):
                try:
                    if _write_attempt(plan, report, batch, dry_run):
                        return
                except FileChanged:
                    continue  # another program wrote it meanwhile: merge into its version
    except LockTimeout as err:
        report.failed.append((path, f"{err}; not written"))
        return
    report.failed.append((path, f"it kept changing while cliptagger wrote it ({WRITE_ATTEMPTS} tries); "
                                "left as the other program wrote it"))


#: Tries per sidecar while another program keeps changing it.
WRITE_ATTEMPTS = 5


def _write_attempt(plan: PlannedWrite, report: WriteReport, batch: Optional[WriteBatch], dry_run: bool) -> bool:
    """One read-merge-write; True when the sidecar is settled (written, unchanged or failed)."""
    path = plan.sidecar
    link_problem = sidecar_link_problem(path)
    if link_problem:
        report.failed.append((path, f"the sidecar is {link_problem}; nothing written"))
        return True
    try:
        before = snapshot(path, max_bytes=MAX_SIDECAR_BYTES)
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            report.failed.append((path, "the sidecar's name would be longer than this file system allows; "
                                        "rename the photo, or use Adobe-style sidecar names (IMG.xmp)"))
        else:
            report.failed.append((path, f"cannot read sidecar: {err.strerror or err}; left alone"))
        return True
    except ValueError as err:
        report.failed.append((path, f"the sidecar is {err}, larger than any real XMP sidecar; left alone"))
        return True
    existing = before.data
    # a new sidecar starts with the keywords inside the photo: apps that read the sidecar instead
    # (Capture One, darktable, Immich, digiKam reading sidecars) must not lose them
    seed = _embedded_seed(plan.images) if existing is None else []
    try:
        data, outcome = updated_sidecar(existing, plan.keywords, source=str(path),
                                        replace_previous_auto=plan.replace_previous_auto, seed=seed)
    except XmpError as err:
        report.failed.append((path, str(err)))
        return True
    if data is None:
        report.unchanged.append(path)
        report.images_saved.extend(plan.images)
        return True
    problem = _unwritable_reason(before.target)
    if problem:
        report.failed.append((path, problem))
        return True
    if dry_run:
        report.written.append(path)
        report.changes[path] = outcome
        return True
    assert batch is not None
    try:
        entry = batch.record(path, existing, data, added=outcome.added, removed=outcome.removed)
    except OSError as err:
        report.failed.append((path, f"cannot write the undo journal, so the sidecar was left alone: "
                                    f"{err.strerror or err}"))
        return True
    try:
        replace_if_unchanged(before, data)
    except FileChanged:
        batch.abandon(entry)
        raise
    except OSError as err:
        batch.abandon(entry)
        report.failed.append((path, f"cannot write sidecar: {err.strerror or err}"))
        return True
    report.written.append(path)
    report.changes[path] = outcome
    report.images_saved.extend(plan.images)
    return True


def _embedded_seed(images: Sequence[Path]) -> list[str]:
    """The keywords inside these photos that a new sidecar starts with (any a sidecar cannot
    hold, e.g. with control characters, stay in the photo only)."""
    found = union_keywords(keyword_form(k) for image in images for k in embedded_keywords(image))
    return [k for k in found if k and keyword_problem(k) is None]


def _unwritable_reason(path: Path) -> str:
    if path.exists() and marked_read_only(path):
        return "the sidecar is read-only; left untouched"
    if marked_read_only(path.parent):
        return f"the folder {path.parent} is read-only; no sidecar written"
    return ""


# ------------------------------------------------------------------------------ reading


def embedded_xmp_packet(image: Path) -> Optional[bytes]:
    """The XMP packet stored inside the image file, or None (none, or not readable)."""
    from PIL import Image

    try:
        with Image.open(image) as handle:
            packet = handle.info.get("xmp") or handle.info.get("XML:com.adobe.xmp")
    except Exception:
        return None
    if isinstance(packet, str):
        packet = packet.encode("utf-8")
    return bytes(packet) if packet else None


def embedded_keywords(image: Path) -> list[str]:
    """Keywords stored inside the image file: its XMP packet and IPTC Keywords."""
    from PIL import Image, IptcImagePlugin

    found: list[str] = []
    try:
        with Image.open(image) as handle:
            packet = handle.info.get("xmp") or handle.info.get("XML:com.adobe.xmp")
            if isinstance(packet, str):
                packet = packet.encode("utf-8")
            if packet:
                try:
                    found.extend(keywords_in_sidecar(bytes(packet), f"XMP inside {image.name}"))
                except XmpError:
                    pass
            try:
                iptc = IptcImagePlugin.getiptcinfo(handle) or {}
            except Exception:
                iptc = {}
            values = iptc.get((2, 25), [])
            if isinstance(values, bytes):
                values = [values]
            for value in values:
                text = value.decode("utf-8", errors="replace").strip()
                if text:
                    found.append(text)
    except Exception:
        return found
    return found


def existing_keywords(image: Path, listing: Optional[FolderListing] = None,
                      ours: Optional[set[str]] = None) -> tuple[list[str], list[str]]:
    """(keywords, problems): the union of the image's sidecars and embedded metadata.
    ``ours``, when given, receives the keywords cliptagger's record in the sidecars says it
    introduced (folded): what learning from the user's keywords must leave out."""
    keywords: list[str] = []
    problems: list[str] = []
    for sidecar in existing_sidecars(image, listing):
        try:
            state = read_keywords(parse_xmp(read_bounded(sidecar, MAX_SIDECAR_BYTES), str(sidecar)))
        except (XmpError, OSError, ValueError) as err:
            problems.append(f"{sidecar.name}: {err}")
            continue
        keywords.extend(state.all_keywords())
        if ours is not None:
            ours.update(fold(keyword) for keyword in state.auto)
    keywords.extend(embedded_keywords(image))
    if ours is not None:  # keywords cliptagger wrote into the photo itself (--xmp-target embedded)
        packet = embedded_xmp_packet(image)
        if packet and b"cliptagger" in packet:
            try:
                ours.update(fold(keyword) for keyword in read_keywords(parse_xmp(packet, image.name)).auto)
            except XmpError:
                pass
    return union_keywords(keywords), problems


__all__ = [  # the naming rules live in sidecar_names; they are part of this module's interface
    "FolderListing",
    "PlannedWrite",
    "SidecarStyle",
    "WriteReport",
    "embedded_keywords",
    "embedded_xmp_packet",
    "existing_keywords",
    "existing_sidecars",
    "keywords_in_sidecar",
    "plan_writes",
    "sidecar_path",
    "write_sidecars",
]
