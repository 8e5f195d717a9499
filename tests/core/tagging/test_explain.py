"""Heatmaps ("why this tag"): the pieces they are read from reproduce the model's own output,
they point at what was planted, they leave the model as it was, and they find the demo
pictures' shapes."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from cliptagger.core.errors import CliptaggerError, ImageDecodeError
from cliptagger.core.media.synthetic import SHAPES, random_scenes, render_with_box
from cliptagger.core.tagging.explain import (
    ExplainError,
    attention_pieces,
    explain_photo,
    explain_picture,
    find_label,
    label_direction,
    relevance,
)
from tests.helpers import exif_rotated_jpeg, truncated_jpeg


def tiny_clip(vision: dict, seed: int = 0) -> torch.nn.Module:
    """A random CLIP with a tiny image tower (built here: no weights to download)."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(seed)
    text = CLIPTextCfg(context_length=8, vocab_size=100, width=32, heads=2, layers=1)
    return CLIP(32, CLIPVisionCfg(**vision), text).eval()


TINY_RESNET = {"layers": [1, 1, 1, 1], "width": 16, "image_size": 64, "head_width": 16}
TINY_VIT = {"layers": 2, "width": 64, "head_width": 16, "patch_size": 8, "image_size": 32,
            "ls_init_value": 0.5}


@pytest.mark.parametrize("vision", [TINY_RESNET, TINY_VIT], ids=["resnet", "vit"])
def test_the_pieces_reproduce_encode_image(vision):
    model = tiny_clip(vision)
    size = vision["image_size"]
    pixels = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = model.encode_image(pixels)
        pieces = attention_pieces(model.visual, pixels)
        assert torch.allclose(pieces.embedding(), expected, atol=1e-5)
        # The attention output is the attention-weighted sum of every position's value...
        weights = pieces.attention()
        assert torch.allclose(weights.sum(dim=-1), torch.ones_like(weights[..., 0]), atol=1e-6)
        per_position = weights[..., None] * pieces.values  # (N, H, L, d)
        summed = per_position.sum(dim=2).reshape(2, -1)
        assert torch.allclose(summed, pieces.pooled(), atol=1e-6)
        assert torch.allclose(pieces.head(summed), expected, atol=1e-5)


def test_the_attention_pool_is_the_weighted_sum_of_per_position_value_projections():
    """ResNet: c_proj is linear, so the pooled output is, per head, the attention-weighted
    sum of what the pool would output if each position were the query's only key."""
    model = tiny_clip(TINY_RESNET)
    pool = model.visual.attnpool
    pixels = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model.encode_image(pixels)
        pieces = attention_pieces(model.visual, pixels)
        n, heads, length, width = pieces.values.shape
        total = torch.zeros_like(expected)
        for head in range(heads):
            only_this_head = torch.zeros_like(pieces.values)
            only_this_head[:, head] = pieces.values[:, head]
            values = only_this_head.transpose(1, 2).reshape(n, length, heads * width)
            alone = F.linear(values, pool.c_proj.weight)  # each position as the only key, no bias
            total += (pieces.attention()[:, head, :, None] * alone).sum(dim=1)
        assert torch.allclose(total + pool.c_proj.bias, expected, atol=1e-5)


@pytest.mark.parametrize("method", ["gradient", "value"])
def test_a_planted_patch_is_where_a_vit_map_peaks(method):
    """One block, no positional embedding, a blank picture: only the planted patch differs,
    so the score of the change it makes must be explained by that patch, wherever it is."""
    model = tiny_clip({**TINY_VIT, "layers": 1}, seed=1)
    with torch.no_grad():
        model.visual.positional_embedding.zero_()
    grid = 4
    for position in range(grid * grid):
        row, column = divmod(position, grid)
        blank = torch.zeros(1, 3, 32, 32)
        planted = blank.clone()
        planted[:, :, row * 8:(row + 1) * 8, column * 8:(column + 1) * 8] = torch.tensor([2.0, -2.0, 2.0])[:, None, None]
        with torch.no_grad():
            direction = (F.normalize(model.encode_image(planted), dim=-1)
                         - F.normalize(model.encode_image(blank), dim=-1))[0]
            pieces = attention_pieces(model.visual, planted)
        maps, _ = relevance(pieces, direction, method)
        assert maps.shape == (grid, grid)
        assert int(maps.argmax()) == position


def shape_on_white(shape: str, row: int, column: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    picture = Image.new("RGB", (256, 256), (240, 240, 240))
    draw = ImageDraw.Draw(picture)
    left, top = column * 128 + 24, row * 128 + 24
    box = [left, top, left + 80, top + 80]
    blue = (35, 70, 225)
    if shape == "circle":
        draw.ellipse(box, fill=blue)
    elif shape == "square":
        draw.rectangle(box, fill=blue)
    elif shape == "triangle":
        draw.polygon([(box[0], box[3]), (box[2], box[3]), (left + 40, top)], fill=blue)
    else:
        draw.polygon([(left + 40 + (40 if k % 2 == 0 else 17) * math.cos(-math.pi / 2 + k * math.pi / 5),
                       top + 40 + (40 if k % 2 == 0 else 17) * math.sin(-math.pi / 2 + k * math.pi / 5))
                      for k in range(10)], fill=blue)
    return picture, (box[0], box[1], box[2], box[3])


@pytest.mark.parametrize("method", ["gradient", "value"])
@pytest.mark.parametrize("detail", [1, "auto"])
def test_a_planted_shape_is_where_the_demo_models_map_peaks(demo_model, demo_label_sets, method, detail):
    """The demo model (a ResNet: a 2x2 grid at its 64 px input, 8x8 at ``auto``) on a shape
    drawn in each quadrant in turn."""
    for shape in SHAPES:
        label_set, index = find_label(demo_label_sets, f"Shape/{shape}")
        direction = label_direction(demo_model, label_set, index)
        for row in range(2):
            for column in range(2):
                picture, box = shape_on_white(shape, row, column)
                heatmap = explain_picture(demo_model, picture, direction, method=method, detail=detail)
                assert heatmap.rows == heatmap.columns == (2 if detail == 1 else 8)
                x, y = heatmap.peak_point()
                assert (y // 128, x // 128) == (row, column), (shape, row, column)


def test_pointing_game_on_generated_pictures(demo_model, demo_label_sets):
    """The strongest cell's centre falls inside the shape's box (the default detail: 8x8).
    A random cell's rate shows what pointing by chance would score."""
    directions = {}
    for shape in SHAPES:
        label_set, index = find_label(demo_label_sets, f"Shape/{shape}")
        directions[shape] = label_direction(demo_model, label_set, index)
    hits = chance = 0.0
    count = 40

    def inside(point, box):
        return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]

    for scene, seed in random_scenes(count, seed=515151):
        picture, box = render_with_box(scene, size=256, seed=seed)
        heatmap = explain_picture(demo_model, picture, directions[scene.shape])
        hits += inside(heatmap.peak_point(), box)
        centres = [(16 + 32 * c, 16 + 32 * r) for r in range(8) for c in range(8)]
        chance += sum(inside(centre, box) for centre in centres) / len(centres)
    assert heatmap.rows == 8
    assert hits / count >= 0.8
    assert hits / count >= 2.5 * chance / count


def test_auto_detail_enlarges_only_coarse_grids(demo_model):
    from cliptagger.core.tagging.explain import choose_detail, native_grid

    assert native_grid(demo_model) == 2 and choose_detail(demo_model) == 4
    assert choose_detail(demo_model, 1) == 1
    with pytest.raises(ExplainError, match="detail"):
        choose_detail(demo_model, 9)


@pytest.mark.parametrize("which", ["demo", "vit"])
def test_explaining_leaves_no_trace_on_the_model(which, demo_model, demo_label_sets):
    from cliptagger.core.model.clip import ClipModel

    if which == "demo":
        clip = demo_model
    else:
        import open_clip

        model = tiny_clip(TINY_VIT)
        clip = ClipModel(model=model, preprocess=open_clip.image_transform(32, is_train=False),
                         tokenizer=open_clip.get_tokenizer("ViT-B-32"),
                         model_id="tiny-vit@random", arch="tiny", device="cpu")
    pixels = torch.randn(1, 3, clip.image_size, clip.image_size)
    before = clip.encode_pixels(pixels)
    direction = torch.randn(before.shape[1])
    for method in ("gradient", "value"):
        for detail in (1, 2):  # 2: positional embeddings resized on the way, never on the model
            heatmap = explain_picture(clip, Image.new("RGB", (80, 60), (200, 30, 30)), direction,
                                      method=method, detail=detail)
            assert heatmap.rows == (2 if which == "demo" else 4) * detail
    assert torch.equal(clip.encode_pixels(pixels), before)
    for module in clip.model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks and not module._backward_hooks
    assert all(parameter.grad is None for parameter in clip.model.parameters())
    assert torch.is_grad_enabled()


def test_a_photo_is_decoded_upright_and_its_heatmap_is_plain_data(demo_model, demo_label_sets, tmp_path):
    path, upright = exif_rotated_jpeg(tmp_path / "turned.jpg")
    heatmap = explain_photo(demo_model, path, demo_label_sets, "shape/TRIANGLE")
    assert heatmap.picture_size == upright.size == (256, 192)
    assert heatmap.crop == (32, 0, 224, 192)  # the centred square the model sees
    assert heatmap.label == "Shape/Shapes|triangle"
    data = json.loads(json.dumps(heatmap.to_dict()))
    assert (data["rows"], data["columns"]) == (8, 8)
    assert max(max(row) for row in data["grid"]) == 1.0
    assert min(min(row) for row in data["grid"]) >= 0.0


@pytest.mark.parametrize("wanted, words", [
    ("Shape/hexagon", "has no label 'hexagon'; it has: circle, square"),
    ("Shapes/circle", "No label set named 'Shapes'"),
    ("circle", "Set/label"),
])
def test_an_unknown_label_is_a_clear_error(demo_label_sets, wanted, words):
    with pytest.raises(ExplainError, match=words.replace("|", r"\|")):
        find_label(demo_label_sets, wanted)


def test_an_unreadable_photo_is_a_clear_error(demo_model, demo_label_sets, tmp_path):
    with pytest.raises(ImageDecodeError, match="truncated"):
        explain_photo(demo_model, truncated_jpeg(tmp_path / "half.jpg"), demo_label_sets, "Shape/circle")
    with pytest.raises(CliptaggerError, match="cannot read file"):
        explain_photo(demo_model, tmp_path / "missing.jpg", demo_label_sets, "Shape/circle")


def test_an_unsupported_tower_is_a_clear_error():
    with pytest.raises(ExplainError, match="not available"):
        attention_pieces(torch.nn.Linear(2, 2), torch.zeros(1, 2))
