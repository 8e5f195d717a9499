"""Precision: bf16 (weights cast) is faithful to fp32, the probe's choice is cached, and
CLIPTAGGER_PRECISION / an explicit request force it. bf16 runs on every CPU (emulated, so
slowly, without native support): the inputs here are small."""

from __future__ import annotations

import json

import pytest
import torch

from cliptagger.core.errors import CliptaggerError
from cliptagger.core.model import precision as precision_module
from cliptagger.core.model.clip import load_model
from cliptagger.core.model.precision import PrecisionChoice, decide, pick, requested_precision
from cliptagger.core.model.weights import ModelRequest, request_for
from cliptagger.core.tagging.engine import ImageResult, TaggingEngine

VIT = ModelRequest("ViT-B-32-256", "datacomp_s34b_b86k")


@pytest.fixture(scope="module")
def demo_bf16():
    return load_model(request_for("demo"), device="cpu", precision="bf16")


def top_labels(outcomes):
    return [[max(range(len(s.probabilities)), key=s.probabilities.__getitem__) for s in o.scores] for o in outcomes]


def test_bf16_casts_the_weights_not_autocast(demo_bf16):
    assert demo_bf16.precision == "bf16" and demo_bf16.precision_choice.source == "forced"
    assert demo_bf16.model.visual.conv1.weight.dtype == torch.bfloat16
    assert demo_bf16.model.logit_scale.dtype == torch.float32  # the temperature keeps its exact value
    embeddings = demo_bf16.encode_pixels(torch.rand(2, 3, demo_bf16.image_size, demo_bf16.image_size))
    assert embeddings.dtype == torch.float32
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(2), atol=1e-3)
    assert demo_bf16.encode_texts(["a red circle."]).dtype == torch.float32


def test_demo_model_bf16_agrees_with_fp32(demo_model, demo_bf16, demo_label_sets, held_out_pictures):
    assert demo_model.precision == "fp32"
    files = [path for path, _ in held_out_pictures]
    exact = list(TaggingEngine(demo_model, demo_label_sets).run(files))
    reduced = list(TaggingEngine(demo_bf16, demo_label_sets).run(files))
    assert all(isinstance(o, ImageResult) for o in exact + reduced)
    cosine = (torch.stack([o.embedding for o in exact]) * torch.stack([o.embedding for o in reduced])).sum(-1)
    decisions = [(a == b) for x, y in zip(top_labels(exact), top_labels(reduced)) for a, b in zip(x, y)]
    print(f"demo bf16 vs fp32: min cosine {cosine.min():.5f}, same top label {sum(decisions) / len(decisions):.1%}")
    assert cosine.min().item() >= 0.999
    assert sum(decisions) / len(decisions) >= 0.99


@pytest.mark.slow
def test_vit_b_32_256_bf16_embeddings_agree_with_fp32(held_out_pictures):
    # Random weights: the probabilities are too flat for a top-1 test, the embeddings are not.
    torch.manual_seed(0)
    exact = load_model(VIT, device="cpu", random_weights=True, precision="fp32")
    reduced = load_model(VIT, device="cpu", random_weights=True, precision="fp32")
    reduced.model.load_state_dict(exact.model.state_dict())
    precision_module.cast_model(reduced.model, "cpu", "bf16")
    reduced.precision = "bf16"
    files = [path for path, _ in held_out_pictures[:6]]
    a = torch.stack([o.embedding for o in TaggingEngine(exact, []).run(files)])
    b = torch.stack([o.embedding for o in TaggingEngine(reduced, []).run(files)])
    cosine = (a * b).sum(-1)
    texts = ["a photo of a dog.", "a red circle on a white background."]
    text_cosine = (exact.encode_texts(texts) * reduced.encode_texts(texts)).sum(-1)
    print(f"ViT-B-32-256 bf16 vs fp32: min cosine images {cosine.min():.5f}, texts {text_cosine.min():.5f}")
    assert cosine.min().item() >= 0.999
    assert text_cosine.min().item() >= 0.999


def test_env_variable_decides_what_auto_means_and_an_argument_wins(monkeypatch):
    monkeypatch.setenv("CLIPTAGGER_PRECISION", "bf16")
    assert requested_precision("auto") == ("bf16", "env")
    assert requested_precision("fp32") == ("fp32", "forced")
    model = load_model(request_for("demo"), device="cpu")
    assert (model.precision, model.precision_choice.source) == ("bf16", "env")
    assert model.model.visual.conv1.weight.dtype == torch.bfloat16
    monkeypatch.setenv("CLIPTAGGER_PRECISION", "fp32")
    model = load_model(request_for("demo"), device="cpu")
    assert (model.precision, model.precision_choice.source) == ("fp32", "env")
    assert model.model.visual.conv1.weight.dtype == torch.float32
    monkeypatch.setenv("CLIPTAGGER_PRECISION", "auto")
    assert requested_precision("auto") == ("auto", "auto")
    monkeypatch.setenv("CLIPTAGGER_PRECISION", "fp8")
    with pytest.raises(CliptaggerError, match="CLIPTAGGER_PRECISION"):
        load_model(request_for("demo"), device="cpu")


def test_probe_measures_once_per_cpu_torch_and_model_then_reuses(monkeypatch, private_app_dirs):
    monkeypatch.delenv("CLIPTAGGER_PRECISION", raising=False)
    calls = []
    real_measure = precision_module.measure_rounds

    def counting(*args, **kwargs):
        rounds = real_measure(*args, **kwargs)
        calls.append(rounds)
        return rounds

    monkeypatch.setattr(precision_module, "measure_rounds", counting)
    first = load_model(request_for("demo"), device="cpu")
    assert first.precision_choice.source == "measured"
    assert set(first.precision_choice.rates) == {"fp32", "bf16"}  # both run on every CPU
    assert all(rate > 0 for rate in first.precision_choice.rates.values())
    assert first.precision == decide(calls[0])[0]
    assert all(len(rates) == precision_module.PROBE_ROUNDS for rates in calls[0].values())
    expected_dtype = torch.bfloat16 if first.precision == "bf16" else torch.float32
    assert first.model.visual.conv1.weight.dtype == expected_dtype
    assert first.precision in first.precision_info and "img/s" in first.precision_info

    second = load_model(request_for("demo"), device="cpu")
    assert len(calls) == 1  # the cached result, no second measurement
    assert second.precision_choice.source == "cached"
    assert (second.precision, second.precision_choice.rates) == (first.precision, pytest.approx(first.precision_choice.rates, abs=0.01))

    stored = json.loads((private_app_dirs / "cache" / "precision-probe.json").read_text())
    [key] = stored
    assert first.model_id in key and torch.__version__ in key


def test_probe_keeps_fp32_unless_the_other_is_clearly_faster():
    assert pick({"fp32": 100.0, "bf16": 105.0}) == "fp32"
    assert pick({"fp32": 100.0, "bf16": 390.0}) == "bf16"
    assert pick({"fp32": 100.0, "bf16": 30.0}) == "fp32"   # emulated bf16 (AVX2-only CPUs)
    assert pick({"fp32": 100.0}) == "fp32"                 # bf16 failed to run
    assert pick({}) == "fp32"
    assert PrecisionChoice("bf16", "measured", {"fp32": 17.4, "bf16": 68.2}).describe() == \
        "bf16 (measured: bf16 68.2 img/s, fp32 17.4 img/s)"


def test_models_command_shows_the_measured_precision(monkeypatch, capsys):
    from cliptagger.cli import main

    monkeypatch.delenv("CLIPTAGGER_PRECISION", raising=False)
    model = load_model(request_for("demo"), device="cpu")
    assert main(["models", "--json"]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["demo"]["cpu_precision"].startswith(model.precision + " (measured: ")
    assert rows["ViT-L-14"]["cpu_precision"] is None


# ---------------------------------------------------------------------- a decisive probe (issue: it flipped)

NOISY = {"fp32": [176.7, 250.5, 120.0, 175.6, 178.1], "bf16": [175.6, 178.1, 247.4, 200.0, 176.7]}
CLEAR = {"fp32": [100.0, 80.0, 110.0, 95.0, 100.0], "bf16": [150.0, 130.0, 140.0, 150.0, 160.0]}
SLOWER = {"fp32": [100.0, 101.0, 99.0, 100.0, 98.0], "bf16": [30.0, 31.0, 29.0, 30.0, 30.0]}


def test_rounds_that_disagree_never_choose_bf16_and_say_so():
    assert decide(NOISY) == ("fp32", False)
    assert decide(CLEAR) == ("bf16", True)
    assert decide(SLOWER) == ("fp32", True)  # emulated bf16 (AVX2-only CPUs): decided, no re-probe
    mostly_slower = {"fp32": [100.0] * 5, "bf16": [70.0, 75.0, 130.0, 72.0, 80.0]}  # one noisy round
    assert decide(mostly_slower) == ("fp32", True)
    assert decide({"fp32": [100.0] * 5}) == ("fp32", True)  # bf16 failed to run
    assert decide({"fp32": [100.0, 100.0], "bf16": [115.0, 109.0]}) == ("fp32", False)  # one round short


def probe_with(monkeypatch, rounds_to_return):
    """choose_precision on a fake tower whose measurement returns the given rounds."""
    from cliptagger.core.model import precision

    calls = []

    def fake_rounds(*_args, **_kwargs):
        calls.append(1)
        return {k: list(v) for k, v in rounds_to_return.items()}

    monkeypatch.setattr(precision, "measure_rounds", fake_rounds)
    monkeypatch.setattr(precision, "candidates", lambda device: ("fp32", "bf16"))
    return calls, lambda: precision.choose_precision("cpu", "auto", "fake-model", visual=object())


def test_an_undecided_probe_keeps_fp32_and_is_measured_again_later(monkeypatch, private_app_dirs):
    from cliptagger.core.model import precision

    monkeypatch.delenv("CLIPTAGGER_PRECISION", raising=False)
    calls, choose = probe_with(monkeypatch, NOISY)
    first = choose()
    assert (first.precision, first.decided, first.source) == ("fp32", False, "measured")
    assert "rounds disagreed" in first.describe()
    second = choose()  # soon after: the stored answer, no new measurement
    assert (second.precision, second.source, len(calls)) == ("fp32", "cached", 1)
    now = precision.time.time()
    monkeypatch.setattr(precision.time, "time", lambda: now + precision.PROBE_AGAIN_AFTER_S + 1)
    third = choose()  # a day later: measured again
    assert third.source == "measured" and len(calls) == 2


def test_a_clear_win_is_chosen_and_kept(monkeypatch, private_app_dirs):
    from cliptagger.core.model import precision

    monkeypatch.delenv("CLIPTAGGER_PRECISION", raising=False)
    calls, choose = probe_with(monkeypatch, CLEAR)
    assert (choose().precision, choose().source) == ("bf16", "cached")
    now = precision.time.time()
    monkeypatch.setattr(precision.time, "time", lambda: now + 10 * precision.PROBE_AGAIN_AFTER_S)
    assert choose().source == "cached" and len(calls) == 1  # decided: never measured again


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"KEY": "fp32"}', '{"KEY": {"precision": "bf16", "rates": [1]}}',
                                    '{"KEY": {"precision": "fp64"}}'])
def test_a_damaged_probe_file_is_measured_again(monkeypatch, private_app_dirs, damage):
    from cliptagger.core.model import precision

    monkeypatch.delenv("CLIPTAGGER_PRECISION", raising=False)
    calls, choose = probe_with(monkeypatch, CLEAR)
    key = precision.probe_key("cpu", "fake-model")
    path = private_app_dirs / "cache" / precision.PROBE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(damage.replace("KEY", key.replace('"', '\\"')))
    choice = choose()
    assert choice.source == "measured" and choice.precision == "bf16" and len(calls) == 1
    assert precision.cached_choices("fake") == [] or all(c.precision in ("fp32", "bf16")
                                                         for c in precision.cached_choices("fake"))
