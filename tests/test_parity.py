"""cliptagger's exact path gives the numbers open_clip itself gives.

For a random-init ViT-B-32-256 (the default architecture) and for the bundled demo model:
image embeddings through the engine vs open_clip's ``preprocess`` + ``encode_image``,
prototypes vs a direct computation, probabilities vs ``(s * img @ txt.T).softmax(-1)``.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
from PIL import Image

from cliptagger.core.media.synthetic import Scene
from cliptagger.core.model.clip import load_model
from cliptagger.core.model.weights import ModelRequest
from cliptagger.core.tagging.engine import ImageResult, TaggingEngine
from cliptagger.core.tagging.labels import Label, LabelSet, Mode
from tests import helpers


def open_clip_reference_preprocess(arch: str, tag: str, image_size: int):
    """The eval transform open_clip builds for (arch, tag), assembled the way its factory does."""
    import open_clip
    from open_clip.transform import (
        PreprocessCfg,
        image_transform_v2,
        merge_preprocess_dict,
    )

    cfg = merge_preprocess_dict(asdict(PreprocessCfg(size=image_size)), open_clip.get_pretrained_cfg(arch, tag))
    return image_transform_v2(PreprocessCfg(**cfg), is_train=False)


def direct_prototypes(clip, label_set: LabelSet) -> torch.Tensor:
    rows = []
    with torch.no_grad():
        for label in label_set.labels:
            tokens = clip.tokenizer(list(label_set.prompts_for(label)))
            text = clip.model.encode_text(tokens)
            text = text / text.norm(dim=-1, keepdim=True)
            mean = text.mean(dim=0)
            rows.append(mean / mean.norm())
    return torch.stack(rows)


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parity")
    scenes = [Scene("circle", "red", "white"), Scene("star", "blue", "striped"), Scene("square", "green", "dark")]
    files = [helpers.photo(folder / f"p{i}.jpg", scene, size=300 + 40 * i, seed=i) for i, scene in enumerate(scenes)]
    wide = render_wide(folder / "wide.png")
    return files + [wide]


def render_wide(path):
    from cliptagger.core.media.synthetic import render

    render(Scene("triangle", "orange", "checkered"), size=320, seed=9).resize((480, 270)).save(path)
    return path


def check_parity(clip, reference_preprocess, files, label_sets):
    engine = TaggingEngine(clip, label_sets, batch_size=3, fast_decode=False)  # the exact path
    outcomes = list(engine.run(files))
    assert all(isinstance(o, ImageResult) for o in outcomes)
    with torch.no_grad():
        batch = torch.stack([reference_preprocess(Image.open(f)) for f in files])
        reference = clip.model.encode_image(batch)
        reference = reference / reference.norm(dim=-1, keepdim=True)
    ours = torch.stack([o.embedding for o in outcomes])
    cosine = (ours * reference).sum(-1)
    assert cosine.min().item() >= 0.9999, cosine

    scale = clip.model.logit_scale.exp().item()
    for index, label_set in enumerate(label_sets):
        prototypes = engine.prototypes()[index]
        expected_text = direct_prototypes(clip, label_set)
        assert torch.allclose(prototypes.text, expected_text, atol=1e-5)
        if label_set.mode is Mode.EXCLUSIVE:
            expected = (scale * reference @ expected_text.T).softmax(dim=-1)
            got = torch.tensor([o.scores[index].probabilities for o in outcomes])
            assert (got - expected).abs().max().item() <= 1e-5


@pytest.mark.slow
def test_parity_random_vit_b_32_256(photo_files):
    torch.manual_seed(0)
    clip = load_model(ModelRequest("ViT-B-32-256", "datacomp_s34b_b86k"), device="cpu", random_weights=True,
                      precision="fp32")  # the reference below computes in fp32
    assert clip.precision == "fp32"
    reference = open_clip_reference_preprocess("ViT-B-32-256", "datacomp_s34b_b86k", clip.image_size)
    label_sets = [
        LabelSet("Scene", (Label("beach"), Label("forest"), Label("city")), templates="photo"),
        LabelSet("Things", (Label("dog", "Animals"), Label("car")), mode=Mode.INDEPENDENT, templates=("a {}.",)),
    ]
    check_parity(clip, reference, photo_files, label_sets)


def test_parity_demo_model(demo_model, demo_label_sets, photo_files):
    assert demo_model.precision == "fp32"  # pinned by the fixture, like the fp32 reference
    check_parity(demo_model, demo_model.preprocess, photo_files, demo_label_sets)
