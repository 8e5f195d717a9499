"""One write for the photo app the user chose: per photo inside the file or into a sidecar
(``targets.where_to_write``), with one combined report.

The app's Write XMP runs this on its writer thread. The photos the app reads only from
inside the file go through ``SidecarSync.write_embedded`` (its own undo batch), the rest
through the sidecar write in the app's sidecar style (another batch): the report names both
batches, so that the window knows both as its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cliptagger.core.metadata.sidecars import SidecarStyle, WriteReport
from cliptagger.core.metadata.targets import DEFAULT_TARGET, target, where_to_write

if TYPE_CHECKING:
    from cliptagger.core.session.facade import Session


@dataclass(frozen=True)
class TargetWriteRequest:
    app: str = DEFAULT_TARGET
    #: The sidecar name for ``custom`` (the other apps read one name of their own).
    style: SidecarStyle = SidecarStyle.EXT
    preserve_mtime: bool = True
    allow_heif: bool = False
    #: Without the embedded writer: write sidecars for every photo (the app will not see some).
    sidecars_anyway: bool = False
    description: str = "cliptagger app"


@dataclass
class TargetWriteReport(WriteReport):
    """Both writes in one: ``written`` lists the sidecars and the photos written into."""

    app: str = DEFAULT_TARGET
    sidecars_written: int = 0
    photos_written: int = 0
    #: The undo batches of this write (embedded first); ``journal`` is the last of them.
    journals: list[Path] = field(default_factory=list)
    #: Photos the app reads only from inside the file, in a build that cannot write into
    #: them: nothing at all was written (ask again with ``sidecars_anyway``).
    refused: list[Path] = field(default_factory=list)
    #: Photos of a kind the app reads no keywords of: they got sidecars.
    unread: list[Path] = field(default_factory=list)


def _add(total: TargetWriteReport, part: WriteReport) -> None:
    total.written += part.written
    total.unchanged += part.unchanged
    total.failed += part.failed
    total.warnings += part.warnings
    total.images_saved += part.images_saved
    total.changes.update(part.changes)
    total.failed_images.update(part.failed_images)
    if part.journal is not None:
        total.journals.append(part.journal)
        total.journal = part.journal


def write_for_target(session: "Session", request: TargetWriteRequest) -> TargetWriteReport:
    """Write every photo with unwritten changes where ``request.app`` reads its keywords."""
    from cliptagger.core.metadata import targets
    from cliptagger.core.metadata.embedded import EmbedOptions

    app = target(request.app)
    photos = sorted(session.unwritten())
    plan = where_to_write(app, photos, request.style)
    report = TargetWriteReport(app=app.key, unread=list(plan.unread))
    into_photos = plan.embedded
    if into_photos and targets.embedded_writer() is None:  # looked up now: tests replace it
        if not request.sidecars_anyway:
            report.refused = list(into_photos)
            return report
        into_photos = []
    sidecar_photos = [p for p in photos if p not in set(into_photos)]
    if into_photos:
        options = EmbedOptions(description=f"{request.description} (embedded)",
                               preserve_mtime=request.preserve_mtime, allow_heif=request.allow_heif)
        embedded = session.sidecars.write_embedded({p: session.accepted_keywords(p) for p in into_photos}, options)
        report.photos_written = len(embedded.written)
        _add(report, embedded)
    if sidecar_photos:
        sidecars = session.write(plan.style, description=request.description, paths=sidecar_photos)
        report.sidecars_written = len(sidecars.written)
        _add(report, sidecars)
    return report
