"""The chosen model's weights are not on this computer: download, pick a file, or use the demo.

One state at a time, in the app's own words (never command-line flags), decided by the
error's ``problem`` field rather than by reading its message.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cliptagger.core.errors import WeightsProblem, WeightsUnavailableError
from cliptagger.gui.widgets.dialog_folders import DOWNLOADS, start_folder

#: config.json: a Hugging Face CLIP folder is chosen by picking its config.json (or its weights file)
WEIGHTS_FILTER = "Weights (*.safetensors *.bin *.pt *.pth config.json);;All files (*)"
WEIGHTS_TITLE = "Choose model weights (a weights file, an OpenAI .pt, or a Hugging Face folder's config.json)"


def explain(model_key: str, error: WeightsUnavailableError) -> tuple[str, Optional[str]]:
    """(what to tell the user, the download button's text or None when a download cannot help now)."""
    size = f"{error.size_mb} MB" if error.size_mb else "a few hundred MB"
    where = (f"<br><br><span style='color:#7a7a7a'>Downloaded weights are kept in {error.looked_in}.</span>"
             if error.looked_in else "")
    if error.problem is WeightsProblem.OFFLINE and "HF_HUB_OFFLINE" in (error.detail or ""):
        return (f"<b>{model_key}</b> is not on this computer yet, and downloads are switched off here "
                f"(offline mode, HF_HUB_OFFLINE, is set where cliptagger was started).<br><br>Choose a "
                f"weights file you already have, or use the small demo model, which only knows coloured "
                f"shapes.{where}", None)
    if error.problem is WeightsProblem.OFFLINE:
        return (f"<b>{model_key}</b> is not on this computer yet, and this computer cannot reach the "
                f"download server right now (no internet connection).<br><br>Connect and press "
                f"<i>Try Again</i>, choose a weights file you already have, or use the small demo model, "
                f"which only knows coloured shapes.{where}", "Try Again")
    if error.problem is WeightsProblem.DOWNLOAD_FAILED:
        return (f"The download of <b>{model_key}</b> did not succeed ({error.detail}).<br><br>"
                f"Try again, choose a weights file you already have, or use the demo model.{where}", "Try Again")
    if error.problem is WeightsProblem.UNSUPPORTED:
        return (f"The chosen weights cannot be used: {error.detail}.<br><br>{error.looked_in}<br><br>"
                "Choose a Hugging Face CLIP folder, an OpenAI .pt file or an open_clip weights file, "
                "or use the demo model.", None)
    if error.problem is WeightsProblem.FILE_MISSING:
        return (f"The weights file for <b>{model_key}</b> is not there any more:<br>{error.looked_in}<br><br>"
                "Choose the file again, or use the demo model.", None)
    if error.problem is WeightsProblem.NOT_DOWNLOADED:
        return (f"<b>{model_key}</b> needs a one-time download of {size}; after that no internet connection is needed.<br><br>"
                f"You can also choose a weights file you already have, or try the small demo model, "
                f"which only knows coloured shapes.{where}", f"Download ({size})")
    return (f"<b>{model_key}</b> cannot be used: {error}", None)


class WeightsDialog(QDialog):
    DOWNLOAD, CHECKPOINT, DEMO = 1, 2, 3

    def __init__(self, model_key: str, error: WeightsUnavailableError, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model weights needed")
        self.choice = 0
        self.checkpoint = ""
        message, download_text = explain(model_key, error)
        self.text = QLabel(message)
        self.text.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.download_button: Optional[QPushButton] = None
        if download_text is not None:
            self.download_button = QPushButton(download_text)
            self.download_button.setDefault(True)
            buttons.addButton(self.download_button, QDialogButtonBox.AcceptRole)
            self.download_button.clicked.connect(lambda: self._finish(self.DOWNLOAD))
        checkpoint = QPushButton("Choose Weights File…")
        demo = QPushButton("Use Demo Model")
        cancel = QPushButton("Cancel")
        buttons.addButton(checkpoint, QDialogButtonBox.ActionRole)
        buttons.addButton(demo, QDialogButtonBox.ActionRole)
        buttons.addButton(cancel, QDialogButtonBox.RejectRole)
        checkpoint.clicked.connect(self._choose_file)
        demo.clicked.connect(lambda: self._finish(self.DEMO))
        cancel.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(560, 240)

    def _finish(self, choice: int) -> None:
        self.choice = choice
        self.accept()

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, WEIGHTS_TITLE, start_folder(DOWNLOADS), WEIGHTS_FILTER)
        if path:
            self.checkpoint = path
            self._finish(self.CHECKPOINT)
