"""Write XMP, Undo and Export for the window: asks the writer thread, reports what happened.

Write XMP writes for the photo app chosen under "Tags for" (``TargetPicker``): inside the
photos it reads that way, sidecars for the rest, and the status message ends with what to do
in the app to see the keywords.

The verbs run on ``WriterWorker`` (never the UI thread); this controller turns their reports
into status messages and dialogs, and settles unwritten decisions before the list is cleared
or the window closes (Write / Discard / Cancel).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from cliptagger.core.metadata.export import ExportFormat
from cliptagger.core.metadata.journal import describe, list_batches
from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.metadata.targets import DEFAULT_TARGET, target
from cliptagger.core.session.facade import Session
from cliptagger.core.session.target_write import TargetWriteRequest
from cliptagger.gui.widgets import dialogs
from cliptagger.gui.widgets.target_picker import TargetPicker
from cliptagger.gui.wording import plural

if TYPE_CHECKING:
    from cliptagger.core.metadata.targets import AppTarget
    from cliptagger.core.metadata.undo import UndoReport
    from cliptagger.core.session.facade import ExportReport
    from cliptagger.core.session.target_write import TargetWriteReport
    from cliptagger.gui.widgets.image_list import ImageListModel
    from cliptagger.gui.workers.tagging import WorkerClient
    from cliptagger.settings import Settings

UNAVAILABLE_URL = "https://exiftool.org"
EXPORT_FILTERS = {ExportFormat.SCORES: "Scores for spreadsheets (*.csv)",
                  ExportFormat.EXIFTOOL: "Keywords for exiftool -csv+= (*.csv)"}


class SidecarController(QObject):
    # Emitted on the UI thread once the report has been shown (tests wait on them).
    write_finished = Signal(object)
    undo_finished = Signal(object)
    export_finished = Signal(object)
    #: sidecars changed on disk: the window refreshes its review state and actions
    changed = Signal()

    def __init__(self, parent: QWidget, session: Session, client: "WorkerClient", images: "ImageListModel",
                 settings: "Settings", show_message: Callable[[str, int], None]) -> None:
        super().__init__(parent)
        self._window = parent
        self.session = session
        self.client = client
        self.images = images
        self.settings = settings
        self._show = show_message
        self._after_write: Optional[Callable[[], None]] = None
        self.can_undo = Session.can_undo()
        #: The undo batches this window wrote (an older one, or the CLI's, is undone only when confirmed).
        self._written_here: set[str] = set()
        self.command_dialog: Optional[dialogs.CommandDialog] = None
        self.undo_box: Optional[QMessageBox] = None
        self.refusal_box: Optional[QMessageBox] = None
        #: "Tags for": the photo app Write XMP writes for (the window puts it in its toolbar).
        self.target_picker = TargetPicker(settings)
        writer = client.writer
        # Bound methods only: PySide runs a lambda slot in the emitting (worker) thread.
        writer.write_done.connect(self._write_done)
        writer.undo_done.connect(self._undo_done)
        writer.export_done.connect(self._export_done)
        writer.failed.connect(self._failed)

    # ------------------------------------------------------------------ write

    def write(self, sidecars_anyway: bool = False) -> None:
        """Where the chosen photo app reads keywords: inside the photos and/or into sidecars
        (planned and written on the writer thread)."""
        if not self.session.counts().unwritten:
            self._show("No accepted tags to write: accept proposals first (Ctrl+Return).", 5000)
            return
        app = self.target_picker.app
        self._show("Writing XMP…" if app.key == DEFAULT_TARGET else f"Writing XMP for {app.name}…", 0)
        settings = self.settings
        self.client.write(TargetWriteRequest(app.key, SidecarStyle(settings.sidecar_style),
                                             preserve_mtime=settings.preserve_photo_mtime,
                                             allow_heif=settings.embed_heif, sidecars_anyway=sidecars_anyway))

    @Slot(object)
    def _write_done(self, report: "TargetWriteReport") -> None:
        app = target(report.app)
        if report.refused:
            self._refuse(app, report.refused)
            self.write_finished.emit(report)
            return
        self._written_here.update(journal.name for journal in report.journals)
        self.images.refresh(report.images_saved)
        self.can_undo = Session.can_undo()
        if report.unread:
            report.warnings.append(f"{app.name} reads no keywords of {plural(len(report.unread), 'photo')} "
                                   f"(e.g. {report.unread[0].name}): they got sidecars")
        self._show(self.write_message(app, report), 15000)
        if report.failed or report.warnings:
            details = "\n".join([f"{p}: {r}" for p, r in report.failed] + [f"Note: {w}" for w in report.warnings])
            self._report_box("Write XMP", self.write_message(app, report), details, warning=bool(report.failed))
        self.changed.emit()
        self.write_finished.emit(report)
        after, self._after_write = self._after_write, None
        if after is not None and not report.failed:
            after()

    @staticmethod
    def write_message(app: "AppTarget", report: "TargetWriteReport") -> str:
        """What was written, then what to do in the app to see it (its hint)."""
        wrote = [plural(report.sidecars_written, "sidecar")] if report.sidecars_written or not report.photos_written else []
        if report.photos_written:
            wrote.append(f"keywords into {plural(report.photos_written, 'photo')}")
        message = (f"Wrote {' and '.join(wrote)}"
                   + (f", {len(report.unchanged)} already up to date" if report.unchanged or not report.written else "")
                   + (f", {len(report.failed)} failed (Show Errors lists them)" if report.failed else ""))
        if report.written:
            message += ". Undo: Ctrl+Z" + (" (once per part: photos and sidecars)" if len(report.journals) > 1 else "")
        if app.key != DEFAULT_TARGET and report.images_saved:
            message += f". Next, {app.hint}"
        return message + "."

    def _refuse(self, app: "AppTarget", photos: "list[Path]") -> None:
        """A build that cannot write into photos: nothing was written; offer sidecars the app ignores."""
        names = ", ".join(p.name for p in photos[:5]) + (f" and {len(photos) - 5} more" if len(photos) > 5 else "")
        self._show(f"Nothing written: {app.name} reads {names} only from inside the photo, which needs ExifTool.", 15000)
        box = QMessageBox(QMessageBox.Warning, "Write XMP", "Nothing was written.", parent=self._window)
        box.setInformativeText(
            f"{app.name} reads the keywords of {names} only from inside the photo, and writing into photos needs "
            f"ExifTool, which is not installed ({UNAVAILABLE_URL}). You can write sidecars instead, but "
            f"{app.name} will not see those keywords; or choose another app under Tags for.")
        box.setDetailedText("\n".join(str(p) for p in photos))
        anyway = box.addButton("Write Sidecars Anyway", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.buttonClicked.connect(lambda button: self._refusal_answered(button is anyway))
        self.refusal_box = box
        box.open()

    def _refusal_answered(self, anyway: bool) -> None:
        if anyway:
            self.write(sidecars_anyway=True)
        else:
            self._after_write = None

    def settle_unwritten(self, doing: str, then: Callable[[], None]) -> bool:
        """True when it is safe to go on now; Write runs ``then`` again once the write is done."""
        unwritten = self.session.counts().unwritten
        if not unwritten:
            return True
        choice = dialogs.ask_about_unwritten(self._window, sorted(self.session.unwritten()), doing,
                                             dict(self.session.sidecars.write_failures()))
        if choice is dialogs.UnwrittenChoice.WRITE:
            self._after_write = then
            self.write()
            return False
        return choice is dialogs.UnwrittenChoice.DISCARD

    # ------------------------------------------------------------------ undo

    def undo(self, force: bool = False) -> None:
        """Undo the last write; one not made in this window (an earlier session's, the CLI's,
        perhaps in another folder) only after the user saw which sidecars it names."""
        batches = list_batches()
        if not force and batches and batches[-1].name not in self._written_here:
            answer = QMessageBox.question(
                self._window, "Undo a write made elsewhere?",
                "The last write was not made in this window:\n\n" + describe(batches[-1])
                + "\n\nUndo it? The sidecars it wrote are put back as they were before it.")
            if answer != QMessageBox.Yes:
                self._show("Nothing undone.", 4000)
                return
        self.client.undo(force)

    @Slot(object)
    def _undo_done(self, report: "UndoReport") -> None:
        self.can_undo = Session.can_undo()
        if report.batch is None:
            self._show("Nothing to undo.", 4000)
        else:
            photos = [p for p in report.restored if not str(p).lower().endswith(".xmp")]  # an embedded write's
            message = (f"Undone: {plural(len(report.restored) - len(photos), 'sidecar')} restored, "
                       f"{len(report.removed)} removed" + (f", {plural(len(photos), 'photo')} restored" if photos else ""))
            if report.merged:
                message += f", {len(report.merged)} kept with only cliptagger's keywords taken out"
            if report.nothing_left:
                message += f", {len(report.nothing_left)} changed since with nothing of cliptagger's left"
            if report.unsettled:
                self._report_box("Undo", "The sidecars were undone, but " + report.unsettled + ".", "", warning=True)
            if report.refused:
                self._report_box("Undo", f"The undo journal names {plural(len(report.refused), 'file')} that cliptagger "
                                 "did not act on: its lines fail their integrity check or name files cliptagger "
                                 "never writes. Those files were not touched.",
                                 "\n".join(f"{p}: {why}" for p, why in report.refused), warning=True)
            if report.skipped:
                message += f", {len(report.skipped)} left as they are"
                self._offer_forced_undo(message + ".", report)
            self._show(message + ".", 10000)
        self.images.refresh_all()
        self.changed.emit()
        self.undo_finished.emit(report)

    # ------------------------------------------------------------------ export

    def choose_export(self) -> None:
        """Ask where to export; the dialog opens in the photos' folder."""
        photos = [str(p.parent) for p in self.images.paths]
        start = os.path.commonpath(photos) if photos else (self.settings.last_export_folder or str(Path.home()))
        path, chosen = QFileDialog.getSaveFileName(self._window, "Export CSV", str(Path(start) / "cliptagger.csv"),
                                                   ";;".join(EXPORT_FILTERS.values()))
        if path:
            form = next((f for f, text in EXPORT_FILTERS.items() if text == chosen), ExportFormat.SCORES)
            self.export(Path(path), form)

    def export(self, path: Path, form: ExportFormat) -> None:
        self.settings.last_export_folder = str(path.parent)
        self.client.export(path, form)

    @Slot(object)
    def _export_done(self, report: "ExportReport") -> None:
        self._show(f"Exported {plural(report.rows, 'photo')} to {report.path}"
                   + (": nothing to apply, the photos already have these keywords." if report.nothing_to_apply
                      else "."), 10000)
        if report.command:
            self.command_dialog = dialogs.CommandDialog(
                self._window, "Apply the keywords with exiftool",
                "This command adds the keywords in the CSV to the photos' own metadata (exiftool keeps a "
                "backup of each file as NAME_original):", report.command)
            self.command_dialog.show()
        self.export_finished.emit(report)

    # ------------------------------------------------------------------ errors

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._after_write = None
        self.changed.emit()
        QMessageBox.warning(self._window, "cliptagger", message)

    def _offer_forced_undo(self, message: str, report: "UndoReport") -> None:
        """Sidecars changed since the write were left alone; offer the safe forced undo."""
        box = QMessageBox(QMessageBox.Warning, "Undo", message, parent=self._window)
        box.setInformativeText("These sidecars changed after cliptagger wrote them (another program or you "
                               "edited them), so they were left as they are. You can take only cliptagger's "
                               "keywords out of them: everything added since stays.")
        box.setDetailedText("\n".join(f"{p}: {why}" for p, why in report.skipped))
        self.force_button = box.addButton("Take Out cliptagger's Keywords", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Leave Them", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(lambda button: self.undo(force=True) if button is self.force_button else None)
        self.undo_box = box
        box.open()

    def _report_box(self, title: str, message: str, details: str, warning: bool) -> None:
        box = QMessageBox(QMessageBox.Warning if warning else QMessageBox.Information, title, message,
                          parent=self._window)
        box.setDetailedText(details)
        box.open()
