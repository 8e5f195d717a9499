"""The label set editor speaks one unit (%), starts custom templates from the list picked, and
never shows stale prompts beside an error (issue 19, item 6)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QDialogButtonBox, QTableWidgetItem  # noqa: E402

from cliptagger.core.tagging.templates import TEMPLATE_SETS  # noqa: E402
from cliptagger.gui.widgets.label_editor import LabelSetEditor  # noqa: E402
from cliptagger.gui.widgets.label_editor_parts import CUSTOM  # noqa: E402
from cliptagger.user_label_sets import demo_label_sets  # noqa: E402


@pytest.fixture
def editor(qtbot):
    dialog = LabelSetEditor(demo_label_sets())
    qtbot.addWidget(dialog)
    dialog.set_list.setCurrentRow(0)  # Shape: the "photo" templates
    return dialog


@pytest.mark.parametrize("typed", ["150", "-5", "nan", "1e999"])
def test_a_label_threshold_out_of_range_is_refused_in_percent(editor, typed):
    editor.labels.setItem(0, 3, QTableWidgetItem(typed))
    assert "use a percentage from 0 to 100" in editor.problem.text()
    assert "use 0 to 1" not in editor.problem.text()
    assert not editor.buttons.button(QDialogButtonBox.Ok).isEnabled()
    assert "no preview" in editor.preview.toPlainText()  # not the prompts of the set before the error


def test_a_percentage_with_its_sign_is_taken(editor):
    editor.labels.setItem(0, 3, QTableWidgetItem("45.5 %"))
    assert editor.label_sets()[0].labels[0].threshold == pytest.approx(0.455)


def test_custom_templates_start_from_the_list_that_was_picked(editor):
    assert editor.templates.currentData() == "photo"
    editor.templates.setCurrentIndex(editor.templates.findData(CUSTOM))
    assert editor.custom_templates.toPlainText().splitlines() == list(TEMPLATE_SETS["photo"])
    assert editor.label_sets()[0].templates == tuple(TEMPLATE_SETS["photo"])


def test_importing_the_file_just_exported_asks_and_replace_merge_or_keep_both_do_what_they_say(editor, tmp_path,
                                                                                                 monkeypatch):
    from cliptagger.core.tagging.labels import Label
    from cliptagger.gui.widgets import label_editor
    from cliptagger.gui.widgets.label_editor_parts import ImportChoice

    exported = tmp_path / "sets.json"
    editor.export_to(exported)
    names = [s.name for s in editor.label_sets()]
    asked = []
    monkeypatch.setattr(label_editor, "ask_import_choice", lambda parent, clashing: asked.append(clashing))
    editor.import_from(exported)  # asked, then Cancel: nothing changes
    assert asked == [names] and [s.name for s in editor.label_sets()] == names

    editor.import_from(exported, ImportChoice.KEEP_BOTH)
    assert [s.name for s in editor.label_sets()] == names + [f"{n} 2" for n in names]

    fresh = LabelSetEditor(demo_label_sets())
    shape = fresh.label_sets()[0]
    fresh._sets[0] = shape.with_changes(labels=shape.labels[:2] + (Label("hexagon"),))  # edited since the export
    fresh.import_from(exported, ImportChoice.MERGE)
    merged = fresh.label_sets()[0]
    assert [l.name for l in merged.labels] == ["circle", "square", "hexagon", "triangle", "star"]
    fresh.import_from(exported, ImportChoice.REPLACE)
    assert fresh.label_sets()[0].labels == shape.labels and len(fresh.label_sets()) == len(names)
    fresh.deleteLater()


def test_many_repeated_keywords_make_one_short_warning():
    from cliptagger.core.tagging.labels import Label, LabelSet
    from cliptagger.gui.widgets.label_editor_parts import repeats_warning

    labels = tuple(Label(f"k{i}") for i in range(10))
    warning = repeats_warning([LabelSet("A", labels), LabelSet("B", labels)])
    assert warning.count("“") == 3 and "and 7 more" in warning and len(warning) < 300


def test_a_lightroom_keyword_list_imports_keeps_its_synonyms_through_an_edit_and_exports(editor, tmp_path,
                                                                                         monkeypatch):
    from cliptagger.gui.widgets import label_editor
    from cliptagger.gui.widgets.label_editor_parts import ImportChoice

    keywords = tmp_path / "lightroom.txt"
    keywords.write_bytes(b"\xef\xbb\xbfAnimals\r\n\tdog\r\n\t\t{puppy}\r\n\tcat\r\n")
    editor.import_from(keywords, ImportChoice.KEEP_BOTH)
    editor.set_list.setCurrentRow(len(editor.label_sets()) - 1)
    editor.labels.setItem(1, 0, QTableWidgetItem("kitten"))  # an edit rebuilds the set from the form
    animals = editor.label_sets()[-1]
    assert [(l.keyword, l.synonyms) for l in animals.labels] == [("Animals|dog", ("puppy",)), ("Animals|kitten", ())]
    assert "a photo of a puppy." in animals.prompts_for(animals.labels[0])

    told = []
    monkeypatch.setattr(label_editor.QMessageBox, "information", lambda *args: told.append(args[2]))
    exported = tmp_path / "out.txt"
    editor.export_to(exported)
    assert "Animals\n\tdog\n\t\t{puppy}\n\tkitten\n" in exported.read_text(encoding="utf-8")
    assert told and "mode, threshold and templates" in told[0]  # the demo sets are exclusive: said, not hidden

    bad = tmp_path / "bad.txt"
    bad.write_text("Animals\n\t\tdog\n")
    warned = []
    monkeypatch.setattr(label_editor.QMessageBox, "warning", lambda *args: warned.append(args[2]))
    count = len(editor.label_sets())
    editor.import_from(bad)
    assert warned and "line 2" in warned[0] and len(editor.label_sets()) == count
