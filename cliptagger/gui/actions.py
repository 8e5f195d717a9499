"""The main window's actions, menus and toolbar, declared in one place (with their shortcuts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QStyle

from cliptagger.core.session.decisions import Decision
from cliptagger.gui.widgets.toolbar_wrap import ToolbarWrap

if TYPE_CHECKING:
    from cliptagger.gui.controllers.model import ModelController
    from cliptagger.gui.main_window import MainWindow
    from cliptagger.gui.widgets.target_picker import TargetPicker

@dataclass
class WindowActions:
    add_folder: QAction
    add_files: QAction
    clear: QAction
    export: QAction
    quit: QAction
    run: QAction
    stop: QAction
    labels: QAction
    accept: QAction
    reject: QAction
    accept_all: QAction
    find: QAction
    write: QAction
    undo: QAction
    errors: QAction
    help: QAction
    about: QAction

    def enable(self, *, running: bool, photos: int, pending: int, tagged: int, unwritten: int,
               can_undo: bool) -> None:
        """Enable what makes sense now (from the session's kept counts: O(1))."""
        self.run.setEnabled(not running and pending > 0)
        self.stop.setEnabled(running)
        for action in (self.accept, self.reject, self.accept_all, self.export):
            action.setEnabled(tagged > 0)
        self.write.setEnabled(unwritten > 0)
        self.undo.setEnabled(can_undo)
        self.clear.setEnabled(not running and photos > 0)


def _action(window: QMainWindow, text: str, slot: Callable[[], object],
            shortcut: "QKeySequence.StandardKey | str | None" = None, tip: str = "",
            icon: "QStyle.StandardPixmap | None" = None) -> QAction:
    action = QAction(text, window)
    if icon is not None:
        action.setIcon(window.style().standardIcon(icon))
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setStatusTip(tip or text)
    action.setToolTip(f"{tip or text} ({QKeySequence(shortcut).toString()})" if shortcut else (tip or text))
    action.triggered.connect(slot)
    return action


def build_actions(w: "MainWindow") -> WindowActions:
    """``w`` is the main window; every action calls one of its methods."""
    return WindowActions(
        add_folder=_action(w, "Add Folder…", lambda: w.intake.choose_folder(), QKeySequence.Open,
                           "Add a folder of photos (searched recursively)", QStyle.SP_DirOpenIcon),
        add_files=_action(w, "Add Files…", lambda: w.intake.choose_files(), "Ctrl+Shift+O"),
        clear=_action(w, "Clear List", w.clear_list, tip="Remove every photo from the list (files stay)"),
        export=_action(w, "Export CSV…", w.sidecars.choose_export, "Ctrl+E", "Export tags or scores as CSV"),
        quit=_action(w, "Quit", w.close, QKeySequence.Quit),
        run=_action(w, "Run", w.run, "F5", "Tag the photos not tagged yet", QStyle.SP_MediaPlay),
        stop=_action(w, "Stop", w.stop, "Escape", "Stop after the current batch", QStyle.SP_MediaStop),
        labels=_action(w, "Label Sets…", w.edit_label_sets, "Ctrl+L"),
        accept=_action(w, "Accept Proposals", lambda: w.review.decide_selected(Decision.ACCEPTED), "Ctrl+Return",
                       "Accept the proposed tags of the selected photos"),
        reject=_action(w, "Reject Proposals", lambda: w.review.decide_selected(Decision.REJECTED), "Ctrl+Backspace",
                       "Reject the proposed tags of the selected photos"),
        accept_all=_action(w, "Accept All Above Threshold", lambda: w.review.accept_all(), "Ctrl+Shift+Return",
                           "Accept every proposal you have not rejected", QStyle.SP_DialogApplyButton),
        find=_action(w, "Find…", w.search.focus, QKeySequence.Find, "Find photos by description"),
        write=_action(w, "Write XMP", w.sidecars.write, QKeySequence.Save,
                      "Write accepted tags where your photo app (Tags for) reads them",
                      QStyle.SP_DialogSaveButton),
        undo=_action(w, "Undo Last Write", w.sidecars.undo, QKeySequence.Undo, icon=QStyle.SP_ArrowBack),
        errors=_action(w, "Show Errors", w.show_errors),
        help=_action(w, "How Tagging Works", w.show_help, QKeySequence.HelpContents),
        about=_action(w, "About cliptagger", w.about),
    )


def shortcut_list(actions: WindowActions) -> list[tuple[str, str]]:
    """(action, key) of every action with a shortcut, as Help lists them."""
    return [(action.text().replace("&", "").rstrip("…"), action.shortcut().toString(QKeySequence.NativeText))
            for action in vars(actions).values() if isinstance(action, QAction) and not action.shortcut().isEmpty()]


def build_menus(window: QMainWindow, a: WindowActions) -> tuple[QMenu, QMenu]:
    """Returns the Recent Folders menu (the window fills it) and the Tagging menu (controllers
    add their actions to it)."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([a.add_folder, a.add_files])
    recent = file_menu.addMenu("Recent Folders")
    file_menu.addSeparator()
    file_menu.addActions([a.export, a.clear])
    file_menu.addSeparator()
    file_menu.addAction(a.quit)
    edit_menu = bar.addMenu("&Edit")
    edit_menu.addAction(a.undo)
    edit_menu.addSeparator()
    edit_menu.addActions([a.accept, a.reject, a.accept_all])
    edit_menu.addSeparator()
    edit_menu.addAction(a.find)
    tag_menu = bar.addMenu("&Tagging")
    tag_menu.addActions([a.run, a.stop, a.write])
    tag_menu.addSeparator()
    tag_menu.addActions([a.labels, a.errors])
    help_menu = bar.addMenu("&Help")
    help_menu.addActions([a.help, a.about])
    return recent, tag_menu


def build_toolbar(window: QMainWindow, a: WindowActions, models: "ModelController", target: "TargetPicker") -> None:
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
    toolbar.addActions([a.add_folder, a.run, a.stop])
    toolbar.addSeparator()
    toolbar.addActions([a.accept_all, a.write, a.undo])
    toolbar.addSeparator()
    toolbar.addAction(a.labels)
    choices = window.addToolBar("Choices")  # model, device, photo app: a row of their own when narrow
    choices.setObjectName("choices-toolbar")
    choices.setMovable(False)
    choices.addWidget(QLabel(" Model "))
    choices.addWidget(models.model_picker)
    choices.addWidget(QLabel(" Device "))
    choices.addWidget(models.device_picker)
    choices.addWidget(target)
    wrap = ToolbarWrap(window, toolbar, choices)  # owned by the window
    target.changed.connect(wrap.fit)  # the sidecar choice shows for "Other (custom)" only
