"""The label editor warns when the loaded model's tokenizer cannot read the labels' script
and names a catalog model that can (issue 22, part 2)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cliptagger.core.tagging.labels import Label, LabelSet  # noqa: E402
from cliptagger.core.tagging.script_support import label_texts, model_warning  # noqa: E402
from cliptagger.gui.widgets.label_editor import LabelSetEditor  # noqa: E402


def test_the_editor_warns_about_hangul_for_an_english_model(qtbot, demo_model):
    korean = LabelSet("동물", (Label("강아지"), Label("고양이")))
    english = LabelSet("Animals", (Label("dog"), Label("cat")))
    dialog = LabelSetEditor([english, korean], script_check=lambda sets: model_warning(label_texts(sets), demo_model))
    qtbot.addWidget(dialog)
    warning = dialog.warning.text()
    assert "Korean" in warning and "강아지" in warning and "SigLIP" in warning
    plain = LabelSetEditor([english], script_check=lambda sets: model_warning(label_texts(sets), demo_model))
    qtbot.addWidget(plain)
    assert plain.warning.text() == ""
