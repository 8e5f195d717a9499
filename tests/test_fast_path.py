"""The fast path (reduced-scale JPEG decoding) agrees with the exact reference path on photos.

Both sides run the same model object in fp32 (pinned, whatever CLIPTAGGER_PRECISION or the
CPU's probe would pick): this compares decoders, not number formats (see test_precision.py).
"""

from __future__ import annotations

import pytest
import torch

from cliptagger.core.model.clip import load_model
from cliptagger.core.model.weights import ModelRequest
from cliptagger.core.tagging.engine import ImageResult, TaggingEngine
from cliptagger.core.tagging.labels import Label, LabelSet
from tests.photos import camera_sized_photos

SCENES = LabelSet("Scene", tuple(Label(n) for n in (
    "person", "cat", "coffee", "rocket", "motorcycle", "stars", "wall", "grass", "stones", "coins",
    "text", "moon", "cells", "eye")), templates=("a photo of {}.", "{}"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return camera_sized_photos(tmp_path_factory.mktemp("photos"), variants=3)


def compare(model, photos, label_sets):
    exact = TaggingEngine(model, label_sets, fast_decode=False, batch_size=16)
    fast = TaggingEngine(model, label_sets, fast_decode=True, batch_size=16)
    a = list(exact.run(photos))
    b = list(fast.run(photos))
    assert all(isinstance(o, ImageResult) for o in a + b)
    cosine = (torch.stack([o.embedding for o in a]) * torch.stack([o.embedding for o in b])).sum(-1)
    same_top = sum(
        max(range(len(x.scores[0].probabilities)), key=x.scores[0].probabilities.__getitem__)
        == max(range(len(y.scores[0].probabilities)), key=y.scores[0].probabilities.__getitem__)
        for x, y in zip(a, b)
    )
    return cosine, same_top / len(a)


@pytest.mark.slow
def test_fast_path_agrees_with_exact_path_vit_b_32_256(photos):
    torch.manual_seed(0)
    model = load_model(ModelRequest("ViT-B-32-256", "datacomp_s34b_b86k"), device="cpu", random_weights=True,
                       precision="fp32")
    assert model.precision == "fp32"
    cosine, agreement = compare(model, photos, [SCENES])
    print(f"ViT-B-32-256 fast vs exact: min cosine {cosine.min():.5f}, mean {cosine.mean():.5f}, top-1 {agreement:.1%}")
    assert cosine.min().item() >= 0.995
    assert agreement >= 0.99


def test_fast_path_agrees_with_exact_path_demo(photos, demo_model, demo_label_sets):
    assert demo_model.precision == "fp32"
    cosine, agreement = compare(demo_model, photos, demo_label_sets)
    assert cosine.min().item() >= 0.995, cosine.min()
    assert agreement >= 0.99
