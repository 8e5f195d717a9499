"""The toolbar's "Tags for" choice: the photo app the keywords are written for.

Each app reads keywords from its own places (inside the photo, ``IMG.jpg.xmp`` or ``IMG.xmp``:
``core.metadata.targets``), so the app decides where Write XMP puts them. Only "Other (custom)"
leaves that to the user: the sidecar name choice is shown for it alone, since for any other app
it would change nothing.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.metadata.targets import DEFAULT_TARGET, TARGETS, AppTarget, target, where_cell
from cliptagger.settings import Settings

SIDECAR_STYLE_NAMES = {SidecarStyle.EXT: "IMG.jpg.xmp", SidecarStyle.ADOBE: "IMG.xmp (Adobe)"}


def app_tooltip(app: AppTarget) -> str:
    if app.key == DEFAULT_TARGET:  # its hint speaks of the CLI's option
        return "XMP sidecars next to the photos, named as chosen beside (IMG.jpg.xmp or IMG.xmp)."
    where = where_cell(app).replace("`", "")
    return f"{app.name} reads keywords from: {where}.\nThen {app.hint}."


class TargetPicker(QWidget):
    #: The user chose another app or sidecar name (settings already updated).
    changed = Signal()

    def __init__(self, settings: Settings, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.app_picker = QComboBox()
        self.app_picker.setObjectName("target-app")
        for app in TARGETS:
            self.app_picker.addItem(app.name, app.key)
            self.app_picker.setItemData(self.app_picker.count() - 1, app_tooltip(app), Qt.ToolTipRole)
        self.style_label = QLabel(" Sidecars ")
        self.style_picker = QComboBox()
        for option, name in SIDECAR_STYLE_NAMES.items():
            self.style_picker.addItem(name, option.value)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for widget in (QLabel(" Tags for "), self.app_picker, self.style_label, self.style_picker):
            layout.addWidget(widget)
        self.app_picker.setCurrentIndex(max(0, self.app_picker.findData(settings.target_app)))
        self.style_picker.setCurrentIndex(max(0, self.style_picker.findData(settings.sidecar_style)))
        self.app_picker.activated.connect(self._app_picked)
        self.style_picker.activated.connect(self._style_picked)
        self._show_choice()

    @property
    def app(self) -> AppTarget:
        return target(self.app_picker.currentData() or DEFAULT_TARGET)

    def _show_choice(self) -> None:
        custom = self.app.key == DEFAULT_TARGET
        self.style_label.setVisible(custom)
        self.style_picker.setVisible(custom)
        self.app_picker.setToolTip(app_tooltip(self.app))

    def _app_picked(self, _index: int) -> None:
        self.settings.target_app = self.app.key
        self._show_choice()
        self.changed.emit()

    def _style_picked(self, _index: int) -> None:
        self.settings.sidecar_style = self.style_picker.currentData()
        self.changed.emit()
