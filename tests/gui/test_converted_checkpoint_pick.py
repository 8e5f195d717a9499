"""The app's pickers take a Hugging Face CLIP folder; an unusable one is explained in the app's words."""

from __future__ import annotations

import json

import pytest

from tests.test_gui import TIMEOUT_MS

pytest.importorskip("transformers")


def test_picking_a_hugging_face_folder_loads_it(qtbot, window, tmp_path, monkeypatch):
    from cliptagger.gui.controllers import model as model_controller
    from tests.core.model.tiny_checkpoints import save_tiny_hf_clip

    folder = tmp_path / "clip-tiny"
    save_tiny_hf_clip(folder)
    monkeypatch.setattr(model_controller.QFileDialog, "getExistingDirectory", lambda *_args: str(folder))
    picker = window.models.model_picker
    picker.setCurrentIndex(picker.findData(model_controller.FOLDER_ITEM))
    picker.activated.emit(picker.currentIndex())
    qtbot.waitUntil(lambda: window.models.ready and "hf-clip" in window.models.state_text, timeout=TIMEOUT_MS)
    assert window.settings.checkpoint == str(folder)
    assert window.session.model_id.startswith("hf-clip@sha256:")


def test_an_unusable_folder_is_explained_without_a_download_button(qtbot, tmp_path):
    from cliptagger.core.errors import WeightsUnavailableError
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for
    from cliptagger.gui.widgets.model_dialog import WeightsDialog

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "siglip"}))
    with pytest.raises(WeightsUnavailableError) as raised:
        load_model(request_for("ViT-B-32-256", checkpoint=tmp_path), device="cpu")
    dialog = WeightsDialog("ViT-B-32-256", raised.value)
    qtbot.addWidget(dialog)
    assert dialog.download_button is None and "SigLIP" in dialog.text.text() and "--" not in dialog.text.text()
