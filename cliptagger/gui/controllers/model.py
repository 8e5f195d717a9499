"""The model's lifecycle in the app: which model and device, loading, first-use weights, downloads.

It owns the Model and Device pickers, asks before a switch would discard results, offers only
devices this computer has, and reports one honest state (``state_text``) for the status bar.
A device change, or a reload of the same weights, keeps every result and decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QMessageBox,
    QProgressDialog,
    QWidget,
)

from cliptagger.core.errors import WeightsUnavailableError
from cliptagger.core.model.catalog import CATALOG, DEMO_KEY
from cliptagger.gui.widgets.dialog_folders import DOWNLOADS, start_folder
from cliptagger.gui.widgets.model_dialog import WEIGHTS_FILTER, WEIGHTS_TITLE, WeightsDialog
from cliptagger.gui.wording import plural

if TYPE_CHECKING:
    from cliptagger.core.model.weights import ModelRequest
    from cliptagger.core.session.facade import Session
    from cliptagger.gui.workers.tagging import WorkerClient
    from cliptagger.settings import Settings

CHECKPOINT_ITEM = "Weights file…"
#: a Hugging Face CLIPModel folder (config.json + model.safetensors + tokenizer files)
FOLDER_ITEM = "Hugging Face folder…"
AUTO_DEVICE = "auto"
DEVICE_NAMES = {"auto": "Auto (fastest)", "cuda": "CUDA GPU", "mps": "Apple GPU (MPS)", "cpu": "CPU"}


class ModelController(QObject):
    #: The model is ready (True) or not (False); the window enables Run accordingly.
    ready_changed = Signal(bool)
    #: Text for the status bar's model field.
    state_changed = Signal(str)
    #: The model family changed (demo <-> real CLIP): the window swaps label sets.
    family_changed = Signal(str)

    def __init__(self, parent: QWidget, settings: "Settings", client: "WorkerClient", session: "Session",
                 has_unwritten: Callable[[], int]) -> None:
        super().__init__(parent)
        self.window, self.settings, self.client, self.session = parent, settings, client, session
        self._has_unwritten = has_unwritten
        self.ready = False
        #: a load is under way (False once it succeeded, failed or was cancelled)
        self.loading = False
        self.model_key = settings.model
        self.state_text = "Model: loading…"
        self._download: Optional[QProgressDialog] = None
        self._loaded_request: Optional["ModelRequest"] = None
        self.model_picker = QComboBox()
        for entry in CATALOG:
            self.model_picker.addItem(entry.key, entry.key)
            self.model_picker.setItemData(self.model_picker.count() - 1, entry.good_for, Qt.ToolTipRole)
        self.model_picker.addItem(CHECKPOINT_ITEM, CHECKPOINT_ITEM)
        self.model_picker.addItem(FOLDER_ITEM, FOLDER_ITEM)
        self._show_model_key()
        self.model_picker.activated.connect(self._model_picked)
        self.device_picker = QComboBox()
        self._set_devices([AUTO_DEVICE, "cpu"] if settings.device in (AUTO_DEVICE, "cpu") else
                          [AUTO_DEVICE, settings.device, "cpu"])  # the real list arrives with the model
        self.device_picker.activated.connect(self._device_picked)
        tagging = client.tagging
        tagging.model_loading.connect(self._loading)
        tagging.model_ready.connect(self._ready)
        tagging.model_failed.connect(self._failed)
        tagging.download_progress.connect(self._download_progress)
        tagging.download_cancelled.connect(self._download_cancelled)

    # ------------------------------------------------------------------ state

    def request(self) -> "ModelRequest":
        """The selected architecture, with the user's weights file when one was chosen."""
        from cliptagger.core.model.weights import request_for

        return request_for(self.model_key, checkpoint=self.settings.checkpoint or None)

    def load(self, allow_download: bool = False) -> None:
        self.loading = True
        self._set_ready(False)
        self.client.load_model(self.request(), self.settings.device, self.settings.precision, allow_download)

    def _set_ready(self, ready: bool) -> None:
        self.ready = ready
        self.ready_changed.emit(ready)

    def _set_state(self, text: str) -> None:
        self.state_text = text
        self.state_changed.emit(text)

    def _show_model_key(self) -> None:
        self.model_picker.setCurrentIndex(max(0, self.model_picker.findData(self.model_key)))

    def _set_devices(self, devices: list[str]) -> None:
        self.device_picker.clear()
        for device in [AUTO_DEVICE, *[d for d in devices if d != AUTO_DEVICE]]:
            self.device_picker.addItem(DEVICE_NAMES.get(device, device), device)
        index = self.device_picker.findData(self.settings.device)
        self.device_picker.setCurrentIndex(max(0, index))

    # ------------------------------------------------------------------ user choices

    def _model_picked(self, _index: int) -> None:
        key = self.model_picker.currentData()
        checkpoint = ""
        if key in (CHECKPOINT_ITEM, FOLDER_ITEM):
            if key == FOLDER_ITEM:
                checkpoint = QFileDialog.getExistingDirectory(self.window, "Choose a Hugging Face CLIP model folder",
                                                                  start_folder(DOWNLOADS))
            else:
                checkpoint, _ = QFileDialog.getOpenFileName(self.window, WEIGHTS_TITLE, start_folder(DOWNLOADS),
                                                            WEIGHTS_FILTER)
            if not checkpoint:
                self._show_model_key()
                return
            key = self.model_key if self.model_key != DEMO_KEY else CATALOG[0].key
        if (key, checkpoint) == (self.model_key, self.settings.checkpoint):
            if not self.ready and not self.loading:
                self.load()  # picking the same model again is how one tries again
            return
        if not self.switch_model(key, checkpoint):
            self._show_model_key()

    def switch_model(self, key: str, checkpoint: str = "") -> bool:
        """Switch to another model, after asking when tagged photos would lose their results."""
        if self.session.results() and not self._confirm_discard(key):
            return False
        family_before = self._family()
        self.model_key, self.settings.model, self.settings.checkpoint = key, key, checkpoint
        self._show_model_key()
        if self._family() != family_before:
            self.family_changed.emit(self._family())
        self.load()
        return True

    def _family(self) -> str:
        from cliptagger.user_label_sets import label_family

        return label_family(self.model_key)

    def _confirm_discard(self, key: str) -> bool:
        tagged = len(self.session.results())
        unwritten = self._has_unwritten()
        text = (f"Tagging with {key} gives new results: the {plural(tagged, 'photo')} tagged with the current model "
                "go back to the queue and their decisions are dropped.")
        if unwritten:
            text += f"\n\n{plural(unwritten, 'photo')} {'has' if unwritten == 1 else 'have'} accepted tags that are not written yet. Write XMP first to keep them."
        answer = QMessageBox.question(self.window, "Switch model?", text,
                                      QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    def _device_picked(self, _index: int) -> None:
        device = self.device_picker.currentData()
        if device == self.settings.device:
            return
        self.settings.device = device
        self.load()  # same weights: results and decisions stay (the session keeps them)

    # ------------------------------------------------------------------ worker news

    @Slot(str)
    def _loading(self, label: str) -> None:
        self._set_state(f"Model: loading {label}…")

    @Slot(str, str, str, bool, list)
    def _ready(self, model_id: str, device: str, precision: str, kept: bool, devices: list) -> None:
        self._close_download()
        self._set_devices(devices)
        self._set_state(f"Model: {model_id.split('@sha256')[0]} on {device.upper()}, {precision}")
        self.loading = False
        self._set_ready(True)

    @Slot(object)
    def _failed(self, error: "WeightsUnavailableError | str") -> None:
        self._close_download()
        self._set_state("Model: not loaded")
        self.loading = False
        self._set_ready(False)
        if not isinstance(error, WeightsUnavailableError):
            QMessageBox.critical(self.window, "Model", str(error))
            return
        dialog = WeightsDialog(self.model_key, error, self.window)
        if dialog.exec() != QDialog.Accepted:
            self._set_state("Model: not loaded (pick a model to try again)")
            return
        if dialog.choice == WeightsDialog.DOWNLOAD:
            self._show_download()
            self.load(allow_download=True)
        elif dialog.choice == WeightsDialog.CHECKPOINT:
            self.settings.checkpoint = dialog.checkpoint
            self.load()
        elif dialog.choice == WeightsDialog.DEMO:
            self.switch_model(DEMO_KEY)

    def _show_download(self) -> None:
        self._download = QProgressDialog(f"Downloading {self.model_key}…", "Cancel", 0, 100, self.window)
        self._download.setWindowTitle("Downloading model")
        self._download.setMinimumDuration(0)
        self._download.canceled.connect(self.client.cancel_download)
        self._download.show()

    def _close_download(self) -> None:
        if self._download is not None:
            self._download.close()
            self._download = None

    @Slot(str)
    def _download_cancelled(self, message: str) -> None:
        self._close_download()
        self._set_state("Model: not loaded (download cancelled; pick a model to try again)")
        self.loading = False
        self._set_ready(False)

    @Slot(int, object)
    def _download_progress(self, done: int, total: Optional[int]) -> None:
        if self._download is None:
            return
        if total:
            self._download.setMaximum(100)
            self._download.setValue(min(100, int(100 * done / total)))
            self._download.setLabelText(f"Downloading {self.model_key}: {done / 1e6:.0f} of {total / 1e6:.0f} MB")
        else:
            self._download.setMaximum(0)
            self._download.setLabelText(f"Downloading {self.model_key}: {done / 1e6:.0f} MB")
