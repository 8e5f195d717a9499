"""First use: the chosen model's weights are not on this computer. Download, pick a file, or demo."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from cliptagger.core.catalog import find_entry


OFFLINE_REASONS = ("no connection to", "offline mode is on", "no connection to the model hub")


class WeightsDialog(QDialog):
    DOWNLOAD, CHECKPOINT, DEMO = 1, 2, 3

    def __init__(self, model_key: str, message: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model weights needed")
        self.choice = 0
        self.checkpoint = ""
        entry = find_entry(model_key)
        size = f" ({entry.download_mb} MB, once)" if entry and entry.download_mb else ""
        # Only the reasons the weights layer gives for a failed connection, not any word "offline"
        # (the message itself recommends "the bundled offline model").
        offline = any(reason in message for reason in OFFLINE_REASONS)
        text = QLabel(
            f"<b>{model_key}</b> is not on this computer yet.<br><br>"
            + ("<span style='color:#c62828'>This computer seems to be offline, so it cannot be downloaded "
               "now.</span><br><br>" if offline else "")
            + "You can download it, use a weights file you already have, or try the small bundled demo model "
              "(it only knows coloured shapes).<br><br>"
            f"<span style='color:#7a7a7a'>{message.replace(chr(10), '<br>')}</span>"
        )
        text.setWordWrap(True)
        buttons = QDialogButtonBox()
        download = QPushButton(f"Download{size}")
        self.download_button = download
        download.setEnabled(not offline)
        checkpoint = QPushButton("Choose weights file…")
        demo = QPushButton("Use demo model")
        cancel = QPushButton("Cancel")
        for button, role in ((download, QDialogButtonBox.AcceptRole), (checkpoint, QDialogButtonBox.ActionRole),
                             (demo, QDialogButtonBox.ActionRole), (cancel, QDialogButtonBox.RejectRole)):
            buttons.addButton(button, role)
        download.clicked.connect(lambda: self._finish(self.DOWNLOAD))
        checkpoint.clicked.connect(self._choose_file)
        demo.clicked.connect(lambda: self._finish(self.DEMO))
        cancel.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
        self.resize(560, 260)

    def _finish(self, choice: int) -> None:
        self.choice = choice
        self.accept()

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose model weights", "",
                                              "Weights (*.safetensors *.bin *.pt *.pth);;All files (*)")
        if path:
            self.checkpoint = path
            self._finish(self.CHECKPOINT)
