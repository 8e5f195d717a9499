"""A progress dialog with a count, a bar, time left and Cancel (Learn from Existing Keywords)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget


class ProgressDialog(QDialog):
    """A count, a bar and Cancel. Not QProgressDialog: its setValue runs the event loop when
    modal, so the end of the work could be handled in the middle of showing its progress."""

    canceled = Signal()

    def __init__(self, parent: QWidget, title: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModal)  # no ticks or runs meanwhile
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setMinimumWidth(380)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.buttons.rejected.connect(self.cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.buttons)

    def setLabelText(self, text: str) -> None:
        self.label.setText(text)

    def labelText(self) -> str:
        return self.label.text()

    def setRange(self, low: int, high: int) -> None:
        self.bar.setRange(low, high)

    def setValue(self, value: int) -> None:
        self.bar.setValue(value)

    def value(self) -> int:
        return self.bar.value()

    def maximum(self) -> int:
        return self.bar.maximum()

    @Slot()
    def cancel(self) -> None:
        """Cancel (the button, Esc or closing the dialog): the work is asked to stop."""
        self.buttons.button(QDialogButtonBox.Cancel).setEnabled(False)
        self.label.setText("Stopping…")
        self.canceled.emit()

    def reject(self) -> None:  # Esc, the window's close button: cancel, stay open until it stopped
        if self.buttons.button(QDialogButtonBox.Cancel).isEnabled():
            self.cancel()
