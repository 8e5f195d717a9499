"""The catalog's accuracy and the img/s measured here: stored per CPU, shown by
``cliptagger models``; a Korean label set with an English model is warned about."""

from __future__ import annotations

import json

from cliptagger import cli
from cliptagger.core.model import speed
from cliptagger.core.model.catalog import DEMO_ARCH
from tests import helpers


def test_measured_speed_is_stored_and_a_damaged_file_is_measured_again():
    assert speed.measured_speed(DEMO_ARCH) is None
    rates = speed.measure_image_speeds([DEMO_ARCH], rounds=2, batch=2)
    assert len(rates[DEMO_ARCH]) == 2 and all(r > 0 for r in rates[DEMO_ARCH])
    medians = speed.measure_and_store([DEMO_ARCH], rounds=1, batch=2)
    assert speed.measured_speed(DEMO_ARCH) == round(medians[DEMO_ARCH], 2)
    speed._path().write_text("{not json", encoding="utf-8")
    assert speed.measured_speed(DEMO_ARCH) is None  # no traceback: measured again when asked
    speed.measure_and_store([DEMO_ARCH], rounds=1, batch=2)
    assert speed.measured_speed(DEMO_ARCH) is not None


def test_models_lists_published_accuracy_and_the_speed_measured_here(capsys):
    speed.measure_and_store([DEMO_ARCH], rounds=1, batch=2)
    assert cli.main(["models", "--json"]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["SigLIP-i18n"]["multilingual"] and rows["SigLIP-i18n"]["xm3600_r1_percent"] > 40
    assert not rows["ViT-B-32-256"]["multilingual"] and rows["ViT-B-32-256"]["default"]
    assert rows["ViT-B-32-256"]["img_per_s_measured"] is None  # not measured on this machine yet
    assert rows["demo"]["img_per_s_measured"] > 0
    assert cli.main(["models"]) == 0
    text = capsys.readouterr().out
    assert "NLLB-SigLIP" in text and "models --measure" in text


def test_tag_warns_when_the_model_cannot_read_korean_labels(capsys, tmp_path):
    helpers.photo(tmp_path / "one.jpg")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"label_sets": [{"name": "동물", "labels": ["강아지", "고양이"]}]}),
                      encoding="utf-8")
    code = cli.main(["tag", str(tmp_path), "--model", "demo", "--device", "cpu", "--labels", str(labels)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Korean (Hangul)" in captured.err and "--model" in captured.err and "SigLIP" in captured.err
