"""The label set editor's widgets, built and explained in one place (``label_editor`` wires them)."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from cliptagger.core.errors import LabelSetError
from cliptagger.core.learning.head_store import LearnedModel
from cliptagger.core.tagging.keyword_list import save_label_file
from cliptagger.core.tagging.labels import Label, LabelSet, Mode
from cliptagger.core.tagging.templates import TEMPLATE_SETS
from cliptagger.settings import DEFAULT_TARGET_PRECISION, TARGET_PRECISION_RANGE

CUSTOM = "custom"  # the templates picker's item for the custom templates below it
ERROR_COLOUR, WARNING_COLOUR, QUIET_COLOUR = "#c62828", "#b26a00", "#7a7a7a"
TARGET_PRECISION_TIP = (
    "Calibrated thresholds are set so that at least this share of the tags a label proposes "
    "would have been right on your own decisions. Higher: fewer, surer proposals; lower: more "
    "proposals, more to untick. Needs 5 accepted and 5 rejected photos for a label.")


def button_grid(buttons: Sequence[tuple[str, Callable[[], object]]], columns: int = 3) -> QGridLayout:
    grid = QGridLayout()
    for index, (text, slot) in enumerate(buttons):
        button = QPushButton(text)
        button.clicked.connect(slot)
        grid.addWidget(button, index // columns, index % columns)
    return grid


def button_row(buttons: Sequence[tuple[str, Callable[[], object]]]) -> QHBoxLayout:
    """Buttons side by side, then a stretch (more widgets may follow it)."""
    row = QHBoxLayout()
    for text, slot in buttons:
        button = QPushButton(text)
        button.clicked.connect(slot)
        row.addWidget(button)
    row.addStretch()
    return row


def append_label_row(table: QTableWidget, cells: Sequence[str], calibrated: str) -> None:
    """A label's row: editable cells, then the calibrated threshold (read-only)."""
    row = table.rowCount()
    table.insertRow(row)
    for column, text in enumerate(cells):
        table.setItem(row, column, QTableWidgetItem(text))
    shown = QTableWidgetItem(calibrated)
    shown.setFlags(shown.flags() & ~Qt.ItemIsEditable)
    table.setItem(row, len(cells), shown)


def message_label(colour: str) -> QLabel:
    """A wrapping line of text in one colour (a problem, a warning, a note)."""
    label = QLabel()
    label.setStyleSheet(f"color: {colour}")
    label.setWordWrap(True)
    return label


def mode_picker() -> QComboBox:
    mode = QComboBox()
    mode.addItem("Exclusive: pick one label", Mode.EXCLUSIVE.value)
    mode.addItem("Independent: any number of labels", Mode.INDEPENDENT.value)
    return mode


def max_tags_box() -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, 100)
    return box


def custom_templates_box() -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setPlaceholderText("one template per line, {} is the label, e.g. a photo of a {}.")
    box.setMaximumHeight(80)
    return box


def read_only_text() -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setReadOnly(True)
    return box


def settings_form(mode: QWidget, threshold: QWidget, max_tags: QWidget, templates: QWidget,
                  custom_templates: QWidget) -> QFormLayout:
    """A set's settings, one row each; the custom templates under the templates picker."""
    form = QFormLayout()
    for name, widget in (("Mode", mode), ("Threshold", threshold), ("Max tags", max_tags),
                         ("Templates", templates), ("", custom_templates)):
        form.addRow(name, widget)
    return form


def threshold_box() -> QDoubleSpinBox:
    """In percent, as the probability bars show them: typing 5 means 5%, never a clamped 100%."""
    threshold = QDoubleSpinBox()
    threshold.setRange(0.0, 100.0)
    threshold.setSingleStep(5.0)
    threshold.setDecimals(1)
    threshold.setSuffix(" %")
    return threshold


def templates_picker() -> QComboBox:
    templates = QComboBox()
    for name, listed in TEMPLATE_SETS.items():
        templates.addItem(f"{name} ({len(listed)} templates)", name)
    templates.addItem("custom (below)", CUSTOM)
    return templates


def labels_table() -> QTableWidget:
    table = QTableWidget(0, 5)
    table.setHorizontalHeaderLabels(["Label", "Parent", "Own prompts (;-separated)", "Threshold %", "Calibrated"])
    for column, tip in ((1, "Keyword hierarchy, e.g. Animals or Places|Europe"),
                        (2, "Sentences used instead of the templates; {} is the label"),
                        (3, "Your own threshold for this label, over the calibrated one and the set's (empty: none)"),
                        (4, "The threshold learned from your decisions for the target precision (— : too few "
                            "decisions)")):
        table.horizontalHeaderItem(column).setToolTip(tip)
    header = table.horizontalHeader()  # the text columns share the room; the others fit their header
    for column, mode in enumerate((QHeaderView.Stretch, QHeaderView.ResizeToContents, QHeaderView.Stretch,
                                   QHeaderView.ResizeToContents, QHeaderView.ResizeToContents)):
        header.setSectionResizeMode(column, mode)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    return table


def target_precision_box(target_precision: Optional[float], learned: Optional[LearnedModel]) -> tuple[QSpinBox, QLabel]:
    """The target precision as a percentage (as every threshold here) and its label; editable
    only when the owner gave one (else the learned heads' own is shown)."""
    box = QSpinBox()
    box.setRange(round(TARGET_PRECISION_RANGE[0] * 100), round(TARGET_PRECISION_RANGE[1] * 100))
    box.setSuffix(" %")
    box.setKeyboardTracking(False)  # typing 85 is one change, not 8 then 85
    shown = target_precision if target_precision is not None else (
        learned.target_precision if learned is not None else DEFAULT_TARGET_PRECISION)
    box.setValue(round(shown * 100))
    box.setEnabled(target_precision is not None)
    box.setToolTip(TARGET_PRECISION_TIP)
    label = QLabel("All calibrated thresholds aim for a precision of")
    label.setToolTip(TARGET_PRECISION_TIP)
    label.setBuddy(box)
    return box, label


# ---------------------------------------------------------------- what the editor computes

def unique_name(sets: list[LabelSet], base: str) -> str:
    """``base``, or ``base 2``, ``base 3``... whichever no set is called yet (any letter case)."""
    names = {s.name.casefold() for s in sets}
    name, n = base, 1
    while name.casefold() in names:
        n += 1
        name = f"{base} {n}"
    return name


def name_problem(sets: list[LabelSet], name: str, renaming: Optional[int] = None) -> str:
    """Why ``name`` cannot name a set ("" when it can); ``renaming``: the index of the set being renamed."""
    name = name.strip()
    if not name:
        return "A label set needs a name: the name was empty, nothing was changed."
    for index, label_set in enumerate(sets):
        if index != renaming and label_set.name.casefold() == name.casefold():
            return f"There is already a label set called “{label_set.name}”: choose another name."
    return ""


def form_label_set(current: LabelSet, rows: list[list[str]], mode: Mode, threshold: float, max_tags: int,
                   templates: "str | tuple[str, ...]") -> LabelSet:
    """The set as the form shows it: ``rows`` of (label, parent, prompts ;-separated, threshold %)."""
    labels = []
    synonyms = {label.keyword.casefold(): label.synonyms for label in current.labels}  # not in the form: kept
    for name, parent, prompts_text, override_text in rows:
        if not name:
            continue
        prompts = tuple(p.strip() for p in prompts_text.split(";") if p.strip())
        label = Label(name, parent.strip("| "), prompts, _percentage(name, override_text))
        labels.append(Label(label.name, label.parent, label.prompts, label.threshold,
                            synonyms.get(label.keyword.casefold(), ())))
    return LabelSet(current.name, tuple(labels), mode, threshold, max_tags, templates, current.baseline_prompts)


def _percentage(name: str, text: str) -> Optional[float]:
    """A label's own threshold typed in % (empty: none) as a fraction; errors speak in %, the
    unit the user typed in (150 used to be refused as "threshold 1.5; use 0 to 1")."""
    if not text.strip():
        return None
    try:
        percent = float(text.strip().rstrip("% "))
    except ValueError:
        percent = math.nan
    if not (math.isfinite(percent) and 0 <= percent <= 100):
        raise LabelSetError(f"The threshold of {name!r} is {text.strip()!r}: use a percentage from 0 to 100.")
    return percent / 100


#: Keywords named in the "label of several sets" warning; the rest are counted (a wall of
#: warnings squeezed the label table to one row).
NAMED_REPEATS = 3


#: The label sets -> a warning ("" for none) when the current model's tokenizer cannot read
#: their script (``core.tagging.script_support``); None where no model is loaded.
ScriptCheck = Optional[Callable[[list[LabelSet]], str]]


def editor_warnings(sets: list[LabelSet], script_check: ScriptCheck) -> str:
    """The editor's warning line: labels in several sets, and scripts the model cannot read."""
    unreadable = script_check(sets) if script_check is not None else ""
    return "\n".join(w for w in (repeats_warning(sets), unreadable) if w)


def repeats_warning(sets: list[LabelSet]) -> str:
    """A warning (not an error) for keywords that are labels of several sets."""
    sets_of: dict[str, list[str]] = {}
    for label_set in sets:
        for label in label_set.labels:
            sets_of.setdefault(label.keyword.casefold(), []).append(label_set.name)
    repeated = [(keyword, names) for keyword, names in sets_of.items() if len(names) > 1]
    if not repeated:
        return ""
    named = "; ".join(f"“{keyword}” in {' and '.join(names)}" for keyword, names in repeated[:NAMED_REPEATS])
    more = f" and {len(repeated) - NAMED_REPEATS} more" if len(repeated) > NAMED_REPEATS else ""
    return (f"In several sets: {named}{more}. Each set's proposal is decided on its own; the keyword is "
            "written if it is accepted in either.")


class ImportChoice(str, Enum):
    """What an import does with a set whose name is taken."""

    REPLACE = "replace"
    MERGE = "merge"
    KEEP_BOTH = "keep both"


def ask_import_choice(parent: QWidget, clashing: list[str]) -> Optional[ImportChoice]:
    """Replace / Merge / Keep Both / Cancel (None) for imported sets whose names are taken."""
    box = QMessageBox(QMessageBox.Icon.Question, "Import label sets",
                      f"{', '.join(f'“{n}”' for n in clashing[:5])}{' …' if len(clashing) > 5 else ''}: "
                      "there are label sets with these names already.", parent=parent)
    box.setInformativeText("Replace them with the imported ones, merge the imported labels into them, "
                           "or keep both (the imported ones get new names)?")
    buttons = {box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole): ImportChoice.REPLACE,
               box.addButton("Merge", QMessageBox.ButtonRole.AcceptRole): ImportChoice.MERGE,
               box.addButton("Keep Both", QMessageBox.ButtonRole.AcceptRole): ImportChoice.KEEP_BOTH}
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return buttons.get(box.clickedButton())


def merged_labels(current: LabelSet, imported: LabelSet) -> LabelSet:
    """``current`` with the labels of ``imported`` it lacks (by keyword) added at the end."""
    known = {label.keyword.casefold() for label in current.labels}
    added = tuple(label for label in imported.labels if label.keyword.casefold() not in known)
    labels = current.labels + added
    every_label = current.mode is Mode.INDEPENDENT and current.max_tags >= len(current.labels)
    return current.with_changes(labels=labels, max_tags=len(labels) if every_label else current.max_tags)


def prompt_preview(label_set: LabelSet, per_label: int = 6) -> str:
    """What the model reads for each label: its first prompts, and how many more."""
    lines = []
    for label in label_set.labels:
        prompts = label_set.prompts_for(label)
        lines.append(f"{label.keyword}:")
        lines.extend(f"    {p}" for p in prompts[:per_label])
        if len(prompts) > per_label:
            lines.append(f"   … and {len(prompts) - per_label} more")
    return "\n".join(lines)


def with_imported(sets: list[LabelSet], imported: list[LabelSet],
                  clash: ImportChoice) -> tuple[list[LabelSet], dict[str, str]]:
    """``sets`` with ``imported`` added; a set whose name is taken replaces that set, merges its
    labels into it, or is kept beside it under a new name, as ``clash`` says. Also: imported
    name -> the name it has now, for the sets whose learned heads come with them (not merged)."""
    result = list(sets)
    renamed: dict[str, str] = {}
    for label_set in imported:
        at = next((i for i, s in enumerate(result) if s.name.casefold() == label_set.name.casefold()), None)
        if at is None or clash is ImportChoice.KEEP_BOTH:
            renamed[label_set.name] = unique_name(result, label_set.name)
            result.append(label_set.with_changes(name=renamed[label_set.name]))
        elif clash is ImportChoice.REPLACE:
            renamed[label_set.name] = result[at].name
            result[at] = label_set.with_changes(name=result[at].name)
        else:  # merge: the labels it lacks; its settings and its own learned head stay
            result[at] = merged_labels(result[at], label_set)
    return result, renamed


def export_label_file(parent: QWidget, path: Path, sets: list[LabelSet], learned: dict[str, Any]) -> None:
    """Write the sets (JSON, or a Lightroom keyword list for ``.txt``); say what a keyword
    list could not hold, and why nothing was written when a name cannot be a line of one."""
    try:
        losses = save_label_file(path, sets, learned)
    except LabelSetError as err:
        QMessageBox.warning(parent, "Export failed", str(err))
        return
    if losses:
        more = f"\n… and {len(losses) - 5} more." if len(losses) > 5 else ""
        QMessageBox.information(parent, "Exported as a keyword list",
                                "A keyword list holds names, levels and synonyms only:\n" + "\n".join(losses[:5]) + more)
