"""The user's label sets in the window: the editor dialog, saving, re-scoring, model families.

Changing label sets never touches an image: the tagging thread re-scores the stored
embeddings (``WorkerClient.rescore``). The editor's target precision re-learns live while it
is open; Cancel puts back the target the dialog opened with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QDialog, QMessageBox

from cliptagger.core.tagging.script_support import label_texts, model_warning
from cliptagger.gui.widgets.label_editor import LabelSetEditor
from cliptagger.settings import take_state_notices
from cliptagger.user_label_sets import label_family, load_user_label_sets, save_user_label_sets

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    from cliptagger.core.session import Session
    from cliptagger.core.tagging.labels import LabelSet
    from cliptagger.gui.controllers.learning import LearningController
    from cliptagger.gui.controllers.model import ModelController
    from cliptagger.gui.workers.tagging import WorkerClient
    from cliptagger.settings import Settings


class LabelSetsController(QObject):
    def __init__(self, window: "QMainWindow", label_sets: "list[LabelSet]", settings: "Settings",
                 session: "Session", client: "WorkerClient", models: "ModelController",
                 learning: "LearningController", warn: Callable[[str], None]) -> None:
        super().__init__(window)
        self.window, self.settings, self.session, self.client = window, settings, session, client
        self.models, self.learning, self._warn = models, learning, warn
        self.label_sets = list(label_sets)
        self.editor: Optional[LabelSetEditor] = None  # while the label set editor is open
        self._editor_precision = settings.target_precision
        models.family_changed.connect(self._family_changed)

    def edit(self) -> LabelSetEditor:
        """Open the label set editor (window-modal)."""
        # the sets made by learning ("My keywords") are edited here like the user's own
        shown = self.session.learner.sets_to_score(self.label_sets)
        model = self.session.model
        editor = LabelSetEditor(shown, self.window, learned=self.session.learned,
                                target_precision=self.settings.target_precision,
                                script_check=(lambda sets: model_warning(label_texts(sets), model)) if model else None)
        self.editor = editor
        self._editor_precision = self.settings.target_precision
        editor.target_precision_changed.connect(self.learning.set_target_precision)
        self.learning.relearned.connect(self._learned_for_editor)
        editor.finished.connect(self._editor_closed)
        editor.heads_imported.connect(self._heads_imported)
        editor.open()
        return editor

    @Slot(int)
    def _learned_for_editor(self, _count: int) -> None:
        if self.editor is not None:
            self.editor.learned_changed(self.session.learned)

    @Slot(object, object)
    def _heads_imported(self, blocks: "dict[str, dict[str, Any]]", renamed: dict[str, str]) -> None:
        """Through the session: its learner installs and stores them under its own lock."""
        problems = self.session.import_learned_heads(blocks, renamed)
        if self.editor is not None:
            self.editor.learned_changed(self.session.learned)
            if problems:
                QMessageBox.warning(self.editor, "Import", "\n".join(problems))

    @Slot(int)
    def _editor_closed(self, result: int) -> None:
        editor, self.editor = self.editor, None
        self.learning.relearned.disconnect(self._learned_for_editor)
        if editor is None:
            return
        editor.settle()
        if result == QDialog.Accepted:
            self.apply(self._take_back_learned(editor.label_sets()))
            if editor.target_precision_value() != self.settings.target_precision:  # OK before it settled
                self.learning.set_target_precision(editor.target_precision_value())
        elif self.settings.target_precision != self._editor_precision:  # applied live: put it back
            self.learning.set_target_precision(self._editor_precision)
        editor.deleteLater()

    def _take_back_learned(self, edited: "list[LabelSet]") -> "list[LabelSet]":
        """Sets made by learning go back to the learner (edited or deleted); the user's are returned."""
        users, changed, problem = self.session.learner.take_back_edited(edited)
        if problem:
            self._warn(f"The learned label sets could not be saved: {problem}")
        if changed:
            self.learning.decisions_changed()  # re-learn the edited ones for their labels now
        return users

    def apply(self, label_sets: "list[LabelSet]") -> None:
        """Use these label sets from now on: saved for the model's family, every photo re-scored."""
        self.label_sets = list(label_sets)
        family = label_family(self.models.model_key)
        try:
            where = save_user_label_sets(self.label_sets, family)
            self.window.statusBar().showMessage(
                f"Label sets saved to {where}" + (" (the demo model keeps its own)" if family == "demo" else ""),
                8000)
        except OSError as err:
            self._warn(f"The label sets could not be saved: {err}")
        self.client.rescore(self.label_sets)

    @Slot(str)
    def _family_changed(self, family: str) -> None:
        self.label_sets = load_user_label_sets(family)
        for notice in take_state_notices():
            self._warn(notice)
        self.client.rescore(self.label_sets)
