"""Labels in the user's language: a multilingual model loads offline from cliptagger's own
cache, reads Korean without unknown tokens, SigLIP-family scoring, script detection."""

from __future__ import annotations

import socket

import pytest
import torch

from cliptagger.core.errors import WeightsProblem, WeightsUnavailableError
from cliptagger.core.model import text_files
from cliptagger.core.model.clip import load_model
from cliptagger.core.model.weights import ModelRequest
from cliptagger.core.tagging.head_scoring import zero_shot_bias, zero_shot_weights
from cliptagger.core.tagging.labels import Label, LabelSet, Mode
from cliptagger.core.tagging.scoring import build_prototypes, probabilities
from cliptagger.core.tagging.script_support import model_warning, script_problems
from tests.core.model.tiny_multilingual import (
    NLLB_REPO,
    install_tiny_nllb,
    install_tiny_xlmr,
)

KOREAN = ["강아지", "고양이", "바다 해변"]


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails, as on a computer with no network."""
    def refuse(*_args, **_kwargs):
        raise OSError("network is blocked in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def tiny_model(tmp_path, no_network):
    arch = install_tiny_xlmr(tmp_path)
    return load_model(ModelRequest(arch), device="cpu", allow_download=False, random_weights=True, precision="fp32")


def independent(names):
    return LabelSet("Things", tuple(Label(n) for n in names), mode=Mode.INDEPENDENT, templates=("{}",), max_tags=5)


def test_multilingual_model_loads_with_the_network_blocked_and_reads_korean(tiny_model):
    tokens = tiny_model.tokenizer(KOREAN)
    unknown = tiny_model.tokenizer.tokenizer.unk_token_id
    assert not bool((tokens == unknown).any())
    assert script_problems(KOREAN, tiny_model.tokenizer) == []
    embeddings = tiny_model.encode_texts(KOREAN)
    assert embeddings.shape == (3, 32)
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(3), atol=1e-5)


def test_no_cached_tokenizer_and_no_network_is_one_clear_message(tmp_path, no_network):
    arch = install_tiny_xlmr(tmp_path)
    folder = text_files.local_folder(text_files.hub_repos(arch)[0])
    (folder / text_files.COMPLETE_MARKER).unlink()  # as if never downloaded
    with pytest.raises(WeightsUnavailableError) as refused:
        load_model(ModelRequest(arch), device="cpu", allow_download=True, random_weights=True)
    assert refused.value.problem is WeightsProblem.OFFLINE
    message = str(refused.value)
    assert "tokenizer" in message and str(folder) in message and "--model demo" in message
    with pytest.raises(WeightsUnavailableError) as turned_off:
        load_model(ModelRequest(arch), device="cpu", allow_download=False, random_weights=True)
    assert turned_off.value.problem is WeightsProblem.NOT_DOWNLOADED


def test_nllb_style_tokenizer_gets_its_language_token(tmp_path):
    arch = install_tiny_nllb(tmp_path)
    folders = {NLLB_REPO: text_files.local_folder(NLLB_REPO)}
    korean = text_files.make_tokenizer(arch, folders, "ko")
    english = text_files.make_tokenizer(arch, folders, "eng_Latn")
    vocab = korean.tokenizer.get_vocab()
    assert int(korean(["강아지"])[0, 0]) == vocab["kor_Hang"]
    assert int(english(["강아지"])[0, 0]) == vocab["eng_Latn"]
    with pytest.raises(WeightsUnavailableError):
        text_files.make_tokenizer(arch, folders, "xx_nonsense")


def test_siglip_scores_independent_labels_with_its_own_sigmoid_and_bias(tiny_model):
    assert tiny_model.logit_bias == pytest.approx(-10.0)
    scale, bias = tiny_model.logit_scale, tiny_model.logit_bias
    images = torch.nn.functional.normalize(torch.randn(4, 32), dim=-1)
    small = build_prototypes(tiny_model, independent(["강아지", "고양이"]), bias)
    assert small.baseline is None  # no neutral caption: SigLIP's bias is its threshold
    cosine = images @ small.text.T
    expected = torch.sigmoid(scale * cosine + bias)
    assert torch.allclose(probabilities(images, small, scale), expected, atol=1e-6)
    larger = build_prototypes(tiny_model, independent(["강아지", "고양이", "바다", "산", "a dog"]), bias)
    assert torch.allclose(probabilities(images, larger, scale)[:, :2], expected, atol=1e-6)
    # the zero-shot head learning starts from is the same linear scorer
    logits = images.double() @ zero_shot_weights(small, scale).T + zero_shot_bias(small)
    assert torch.allclose(torch.sigmoid(logits).float(), expected, atol=1e-5)


def test_exclusive_sets_stay_a_softmax_for_siglip(tiny_model):
    scale, bias = tiny_model.logit_scale, tiny_model.logit_bias
    images = torch.nn.functional.normalize(torch.randn(3, 32), dim=-1)
    pick_one = LabelSet("Scene", (Label("바다"), Label("산")), templates=("{}",))
    prototypes = build_prototypes(tiny_model, pick_one, bias)
    result = probabilities(images, prototypes, scale)
    assert torch.allclose(result.sum(dim=-1), torch.ones(3), atol=1e-6)
    assert torch.allclose(result, (scale * images @ prototypes.text.T + bias).softmax(dim=-1), atol=1e-6)


def test_script_detection_flags_hangul_for_the_english_tokenizer_only(demo_model, tiny_model):
    problems = script_problems(KOREAN + ["dog"], demo_model.tokenizer)
    assert [p.script for p in problems] == ["Korean (Hangul)"]
    assert problems[0].texts == tuple(KOREAN)
    warning = model_warning(KOREAN, demo_model)
    assert "Korean" in warning and "--model" in warning and "SigLIP" in warning
    assert model_warning(["dog", "beach"], demo_model) == ""
    assert model_warning(KOREAN, tiny_model) == ""


def test_prompt_cache_is_keyed_by_model(demo_model, tiny_model):
    from cliptagger.core.session.searcher import Searcher
    from cliptagger.core.tagging.engine import TaggingEngine

    labels = [LabelSet("Scene", (Label("바다"), Label("산")), templates=("{}",))]
    demo_engine, tiny_engine = TaggingEngine(demo_model, labels), TaggingEngine(tiny_model, labels)
    searcher = Searcher()
    demo_state = searcher.state_for(demo_engine)
    assert searcher.state_for(demo_engine) is demo_state
    tiny_state = searcher.state_for(tiny_engine)
    assert tiny_state.prompts is not demo_state.prompts
    demo_vector = demo_state.prompts.encode_texts(["바다"])
    tiny_vector = tiny_state.prompts.encode_texts(["바다"])
    assert demo_vector.shape[1] != tiny_vector.shape[1]  # each model's own embedding of the same text
    assert torch.allclose(tiny_vector, tiny_model.encode_texts(["바다"]))


def test_language_codes_for_nllb():
    assert text_files.nllb_language("ko") == "kor_Hang"
    assert text_files.nllb_language("ko_KR.UTF-8") == "kor_Hang"
    assert text_files.nllb_language("jpn_Jpan") == "jpn_Jpan"
    with pytest.raises(WeightsUnavailableError, match="Unknown text language"):
        text_files.nllb_language("klingon")
