"""The label set editor: create, rename, delete, import, export and edit sets.

Edits are validated by the core (``LabelSet``), previewed live (expanded prompts), and
handed back with ``label_sets()`` when the dialog is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLabel,
    QListWidget,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cliptagger.core.errors import LabelSetError
from cliptagger.core.learning.head_store import LearnedModel, heads_for_export
from cliptagger.core.tagging.head_scoring import calibrated_threshold
from cliptagger.core.tagging.keyword_list import load_label_file
from cliptagger.core.tagging.labels import (
    HIERARCHY_SEPARATOR,
    Label,
    LabelSet,
    Mode,
    load_learned_blocks,
)
from cliptagger.core.tagging.templates import TEMPLATE_SETS
from cliptagger.gui.widgets.dialog_folders import ask_label_file
from cliptagger.gui.widgets.label_editor_parts import (
    CUSTOM,
    ERROR_COLOUR,
    QUIET_COLOUR,
    WARNING_COLOUR,
    ImportChoice,
    ScriptCheck,
    append_label_row,
    ask_import_choice,
    button_grid,
    button_row,
    custom_templates_box,
    editor_warnings,
    export_label_file,
    form_label_set,
    labels_table,
    max_tags_box,
    message_label,
    mode_picker,
    name_problem,
    prompt_preview,
    read_only_text,
    settings_form,
    target_precision_box,
    templates_picker,
    threshold_box,
    unique_name,
    with_imported,
)


def _calibrated_text(threshold: Optional[float]) -> str:
    return "—" if threshold is None else f"{threshold * 100:.1f} %"




class LabelSetEditor(QDialog):
    #: The user set another target precision (a fraction); the owner re-learns in the background
    #: and hands the new heads to ``learned_changed``.
    target_precision_changed = Signal(float)
    #: Learned heads came with an imported file: (their blocks, {name in the file: name here}).
    heads_imported = Signal(object, object)

    def __init__(self, label_sets: list[LabelSet], parent: Optional[QWidget] = None,
                 learned: Optional[LearnedModel] = None, target_precision: Optional[float] = None,
                 script_check: ScriptCheck = None) -> None:
        """``learned``: the heads of the current model, whose calibrated thresholds are shown and
        which travel with Export and Import. ``target_precision``: what the calibrated thresholds
        aim for, editable here (None: the learned heads' own, not editable)."""
        super().__init__(parent)
        self._learned, self._script_check = learned, script_check
        self.setWindowTitle("Label sets")
        self.resize(980, 620)
        self._sets: list[LabelSet] = list(label_sets)
        self._current, self._loading = -1, False

        self.set_list = QListWidget()
        self.set_list.currentRowChanged.connect(self._select)
        buttons = button_grid((("New", lambda: self.new_set()), ("Rename", lambda: self.rename_set()),
                               ("Delete", self.delete_set), ("Import…", self.import_sets), ("Export…", self.export_sets)))
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("Label sets"))
        left_layout.addWidget(self.set_list)
        left_layout.addLayout(buttons)
        self.name_problem = message_label(ERROR_COLOUR)  # what is wrong with a name typed in New / Rename
        left_layout.addWidget(self.name_problem)

        self.mode = mode_picker()
        self.threshold = threshold_box()
        self.max_tags = max_tags_box()
        self.templates = templates_picker()
        self.custom_templates = custom_templates_box()
        self.labels = labels_table()
        label_buttons = button_row((("Add label", self.add_label), ("Remove selected", self.remove_labels)))
        # Beside the Calibrated column it sets
        self.target_precision, target_label = target_precision_box(target_precision, learned)
        self.learning_note = message_label(QUIET_COLOUR)  # "re-learning…" while the heads are fitted again
        label_buttons.addWidget(target_label)
        label_buttons.addWidget(self.target_precision)
        label_buttons.addWidget(self.learning_note)
        self._precision_timer = QTimer(self)  # a burst of arrow presses re-learns once
        self._precision_timer.setSingleShot(True)
        self._precision_timer.setInterval(400)
        self._precision_timer.timeout.connect(self._precision_settled)
        self.target_precision.valueChanged.connect(self._precision_timer.start)
        self.preview = read_only_text()
        self.problem = message_label(ERROR_COLOUR)
        self.warning = message_label(WARNING_COLOUR)  # allowed, but worth knowing (a keyword in two sets)

        form = settings_form(self.mode, self.threshold, self.max_tags, self.templates, self.custom_templates)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addLayout(form)
        right_layout.addWidget(self.labels, 3)
        right_layout.addLayout(label_buttons)
        right_layout.addWidget(QLabel("Expanded prompts (what the model reads)"))
        right_layout.addWidget(self.preview, 2)
        right_layout.addWidget(self.problem)
        right_layout.addWidget(self.warning)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([260, 720])
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        layout.addWidget(self.buttons)

        self._named_templates = "photo"  # the last named list picked: where custom templates start from
        self.templates.currentIndexChanged.connect(self._templates_picked)  # before the preview below
        for widget_signal in (self.mode.currentIndexChanged, self.threshold.valueChanged, self.max_tags.valueChanged,
                              self.templates.currentIndexChanged, self.custom_templates.textChanged,
                              self.labels.itemChanged):
            widget_signal.connect(self._edited)
        self._refresh_list()
        if self._sets:
            self.set_list.setCurrentRow(0)
        self._show_repeats()

    # ---------------------------------------------------------------- public


    def settle(self) -> None:
        """The dialog is closing: a target precision still waiting for its re-learn is dropped
        (the window applies the final value itself)."""
        self._precision_timer.stop()
    def label_sets(self) -> list[LabelSet]:
        return list(self._sets)

    def target_precision_value(self) -> float:
        """The target precision shown, as a fraction."""
        return self.target_precision.value() / 100

    def _precision_settled(self) -> None:
        self.learning_note.setText("re-learning…")
        self.target_precision_changed.emit(self.target_precision_value())

    def learned_changed(self, learned: Optional[LearnedModel]) -> None:
        """New heads (e.g. for another target precision): show their calibrated thresholds.
        Only the Calibrated cells change, so a cell being edited is left alone."""
        self._learned = learned
        if self._precision_timer.isActive():
            return  # another change is on its way: the note stays
        self.learning_note.setText("")
        if not 0 <= self._current < len(self._sets):
            return
        label_set = self._sets[self._current]
        head = learned.heads.get(label_set.name) if learned is not None else None
        self._loading = True
        for row in range(self.labels.rowCount()):
            name = self.labels.item(row, 0).text().strip() if self.labels.item(row, 0) else ""
            parent = self.labels.item(row, 1).text().strip("| ") if self.labels.item(row, 1) else ""
            keyword = f"{parent}{HIERARCHY_SEPARATOR}{name}" if parent and name else name
            calibrated = calibrated_threshold(head, label_set, keyword) if keyword else None
            self.labels.item(row, 4).setText(_calibrated_text(calibrated))
        self._loading = False

    # ---------------------------------------------------------------- list of sets

    def _refresh_list(self) -> None:
        row = self.set_list.currentRow()
        self.set_list.blockSignals(True)
        self.set_list.clear()
        for label_set in self._sets:
            self.set_list.addItem(f"{label_set.name}  ({len(label_set.labels)} labels, {label_set.mode.value})")
        self.set_list.blockSignals(False)
        if self._sets:
            self.set_list.setCurrentRow(min(max(row, 0), len(self._sets) - 1))

    def _select(self, row: int) -> None:
        self._current = row
        if 0 <= row < len(self._sets):
            self._load(self._sets[row])

    def _unique_name(self, base: str) -> str:
        return unique_name(self._sets, base)

    def name_error(self, name: str, renaming: Optional[int] = None) -> str:
        """Why ``name`` cannot name a set ("" when it can); ``renaming``: the set being renamed."""
        return name_problem(self._sets, name, renaming)

    def new_set(self, name: Optional[str] = None) -> bool:
        if name is None:
            name, ok = QInputDialog.getText(self, "New label set", "Name:", text=self._unique_name("New set"))
            if not ok:
                return False
        self.name_problem.setText(self.name_error(name))
        if self.name_problem.text():
            return False
        self._sets.append(LabelSet(name.strip(), (Label("first label"), Label("second label"))))
        self._refresh_list()
        self.set_list.setCurrentRow(len(self._sets) - 1)
        return True

    def rename_set(self, name: Optional[str] = None) -> bool:
        if not 0 <= self._current < len(self._sets):
            return False
        current = self._sets[self._current]
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename label set", "Name:", text=current.name)
            if not ok:
                return False
        self.name_problem.setText(self.name_error(name, renaming=self._current))
        if self.name_problem.text():
            return False
        self._sets[self._current] = current.with_changes(name=name.strip())
        self._refresh_list()
        self._show_repeats()
        return True

    def delete_set(self) -> None:
        if not 0 <= self._current < len(self._sets):
            return
        name = self._sets[self._current].name
        if QMessageBox.question(self, "Delete label set", f"Delete the label set “{name}”?") == QMessageBox.Yes:
            del self._sets[self._current]
            self._refresh_list()
            self._show_repeats()

    def import_sets(self) -> None:
        path = ask_label_file(self, "Import label sets")
        if path is not None:
            self.import_from(path)

    def import_from(self, path: Path, clash: Optional[ImportChoice] = None) -> None:
        """Add the sets of a label file. Where one has the name of a set here, ``clash`` (asked
        when None) says what to do: replace that set, merge the labels it lacks into it, or keep
        both (the imported one renamed "Name 2")."""
        try:
            imported = load_label_file(path)  # JSON, or a Lightroom keyword list (.txt)
        except LabelSetError as err:
            QMessageBox.warning(self, "Import failed", str(err))
            return
        clashing = [s.name for s in imported if any(s.name.casefold() == t.name.casefold() for t in self._sets)]
        if clashing and clash is None:
            clash = ask_import_choice(self, clashing)
            if clash is None:
                return
        self._sets, renamed = with_imported(self._sets, imported, clash or ImportChoice.KEEP_BOTH)
        blocks = {name: block for name, block in load_learned_blocks(path).items() if name in renamed}
        if blocks:  # learned heads travel with the file: the owner installs them (in the session)
            self.heads_imported.emit(blocks, renamed)
        self._refresh_list()
        self._show_repeats()

    def export_sets(self) -> None:
        path = ask_label_file(self, "Export label sets", save_as="label-sets.json")
        if path is not None:
            self.export_to(path)

    def export_to(self, path: Path) -> None:
        """The sets with the current model's learned heads (``.txt``: a Lightroom keyword list)."""
        export_label_file(self, path, self._sets, heads_for_export(self._learned, [s.name for s in self._sets]))

    # ---------------------------------------------------------------- one set

    def _load(self, label_set: LabelSet) -> None:
        self._loading = True
        self.mode.setCurrentIndex(0 if label_set.mode is Mode.EXCLUSIVE else 1)
        self.threshold.setValue(label_set.threshold * 100)
        self.max_tags.setValue(label_set.max_tags)
        if isinstance(label_set.templates, str):
            self.templates.setCurrentIndex(self.templates.findData(label_set.templates))
            self.custom_templates.setPlainText("")
        else:
            self.templates.setCurrentIndex(self.templates.findData(CUSTOM))
            self.custom_templates.setPlainText("\n".join(label_set.templates))
        self.labels.setRowCount(0)
        head = self._learned.heads.get(label_set.name) if self._learned is not None else None
        for label in label_set.labels:
            override = "" if label.threshold is None else f"{label.threshold * 100:g}"
            calibrated = calibrated_threshold(head, label_set, label.keyword)
            self._append_row(label.name, label.parent, "; ".join(label.prompts), override,
                             _calibrated_text(calibrated))
        self._loading = False
        self._show_preview(label_set)

    def _append_row(self, name: str, parent: str, prompts: str, override: str = "", calibrated: str = "—") -> None:
        append_label_row(self.labels, (name, parent, prompts, override), calibrated)

    def add_label(self) -> None:
        self._append_row("new label", "", "")
        self.labels.editItem(self.labels.item(self.labels.rowCount() - 1, 0))

    def remove_labels(self) -> None:
        for row in sorted({i.row() for i in self.labels.selectedIndexes()}, reverse=True):
            self.labels.removeRow(row)
        self._edited()

    def _form_to_set(self) -> LabelSet:
        rows = [[(self.labels.item(row, c).text() if self.labels.item(row, c) else "").strip() for c in range(4)]
                for row in range(self.labels.rowCount())]
        template_choice = self.templates.currentData()
        templates = (tuple(t.strip() for t in self.custom_templates.toPlainText().splitlines() if t.strip())
                     if template_choice == CUSTOM else template_choice)
        return form_label_set(self._sets[self._current], rows, Mode(self.mode.currentData()),
                              self.threshold.value() / 100, self.max_tags.value(), templates)

    def _edited(self, *_args) -> None:
        if self._loading or not 0 <= self._current < len(self._sets):
            return
        self.custom_templates.setEnabled(self.templates.currentData() == CUSTOM)
        try:
            label_set = self._form_to_set()
        except LabelSetError as err:
            self.problem.setText(str(err))
            self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)
            self.preview.setPlainText("(no preview until the problem above is fixed)")  # never stale prompts
            return
        self._sets[self._current] = label_set
        self.set_list.item(self._current).setText(
            f"{label_set.name}  ({len(label_set.labels)} labels, {label_set.mode.value})")
        self._show_preview(label_set)
        self._show_repeats()

    def _templates_picked(self, _index: int) -> None:
        """Custom templates start from the list that was picked, not from nothing."""
        picked = self.templates.currentData()
        if picked != CUSTOM:
            self._named_templates = picked
        elif not self._loading and not self.custom_templates.toPlainText().strip():
            self.custom_templates.setPlainText("\n".join(TEMPLATE_SETS.get(self._named_templates, ())))

    def _show_repeats(self) -> None:
        self.warning.setText(editor_warnings(self._sets, self._script_check))

    def _show_preview(self, label_set: LabelSet) -> None:
        self.problem.setText("")
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(True)
        self.custom_templates.setEnabled(self.templates.currentData() == CUSTOM)
        self.preview.setPlainText(prompt_preview(label_set))
