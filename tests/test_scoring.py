"""Scoring maths: prompt ensembling, exclusive softmax, independent per-label probabilities."""

from __future__ import annotations

import torch

from cliptagger.core.tagging.labels import Label, LabelSet, Mode
from cliptagger.core.tagging.scoring import (
    build_prototypes,
    ensemble,
    probabilities,
    propose,
)


class FakeTextEncoder:
    """Deterministic text vectors (a hash of the text) so the maths can be checked exactly."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def vector(self, text: str) -> torch.Tensor:
        generator = torch.Generator().manual_seed(abs(hash(text)) % (2**31))
        return torch.randn(self.dim, generator=generator)

    def encode_texts(self, texts):
        self.calls.append(list(texts))
        return torch.nn.functional.normalize(torch.stack([self.vector(t) for t in texts]), dim=-1)


def test_prototype_is_normalized_mean_of_normalized_prompts():
    encoder = FakeTextEncoder()
    label_set = LabelSet("S", (Label("a"), Label("b")), templates=("x {}", "y {}", "z {}"))
    prototypes = build_prototypes(encoder, label_set)
    direct = torch.nn.functional.normalize(
        torch.stack([torch.nn.functional.normalize(encoder.vector(f"{t} a"), dim=0) for t in "xyz"]).mean(0), dim=0
    )
    assert torch.allclose(prototypes.text[0], direct, atol=1e-6)
    assert torch.allclose(prototypes.text.norm(dim=-1), torch.ones(2))
    assert len(encoder.calls) == 1  # every prompt of the set in one batch


def test_exclusive_is_clip_softmax():
    encoder = FakeTextEncoder()
    label_set = LabelSet("S", (Label("a"), Label("b"), Label("c")))
    prototypes = build_prototypes(encoder, label_set)
    images = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)
    probs = probabilities(images, prototypes, 100.0)
    assert torch.allclose(probs, (100.0 * images @ prototypes.text.T).softmax(-1))
    assert torch.allclose(probs.sum(-1), torch.ones(5))


def test_independent_probabilities_do_not_shrink_when_labels_are_added():
    encoder = FakeTextEncoder()
    images = torch.nn.functional.normalize(torch.randn(4, 16), dim=-1)
    small = LabelSet("S", (Label("a"), Label("b")), mode=Mode.INDEPENDENT)
    large = LabelSet("S", tuple(Label(n) for n in "abcdefgh"), mode=Mode.INDEPENDENT)
    p_small = probabilities(images, build_prototypes(encoder, small), 50.0)
    p_large = probabilities(images, build_prototypes(encoder, large), 50.0)
    assert torch.allclose(p_small, p_large[:, :2], atol=1e-6)
    # and each one is the two-way CLIP softmax against the neutral caption
    protos = build_prototypes(encoder, small)
    two_way = torch.stack([images @ protos.text[0], images @ protos.baseline], dim=-1) * 50.0
    assert torch.allclose(p_small[:, 0], two_way.softmax(-1)[:, 0], atol=1e-6)


def test_propose_respects_threshold_and_max_tags():
    label_set = LabelSet("S", (Label("a"), Label("b", "P"), Label("c")), mode=Mode.INDEPENDENT,
                         threshold=0.5, max_tags=2)
    chosen = propose([0.7, 0.9, 0.6], label_set)
    assert [(p.keyword, round(p.probability, 2)) for p in chosen] == [("P|b", 0.9), ("a", 0.7)]
    assert propose([0.1, 0.2, 0.3], label_set) == []


def test_ensemble_of_one_is_identity():
    vector = torch.nn.functional.normalize(torch.randn(1, 8), dim=-1)
    assert torch.allclose(ensemble(vector), vector[0])
