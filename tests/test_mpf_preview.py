"""Camera JPEGs with an MPF large preview: the fast path decodes the preview, faithfully.

Pillow writes MPO files whose extra frames are typed "Undefined"; cameras type their
previews "Large Thumbnail". ``camera_jpeg`` writes the file and then sets that type, the
way a camera would, so both kinds can be tested.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
import torch
from PIL import Image

from cliptagger.core.media.images import load_rgb
from cliptagger.core.tagging.engine import ImageResult, TaggingEngine
from tests.photos import camera_sized_photos

LARGE_THUMBNAIL_FULL_HD = 0x010002


def camera_jpeg(path: Path, picture: Image.Image, preview: Image.Image, mp_type: int = LARGE_THUMBNAIL_FULL_HD,
                orientation: int = 1) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    picture.save(buffer, "MPO", save_all=True, append_images=[preview], quality=90, exif=exif)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as written:
        entry = written.mpinfo[0xB002][1]
    undefined = struct.pack("<LLLHH", 0, entry["Size"], entry["DataOffset"], 0, 0)
    assert data.count(undefined) == 1
    path.write_bytes(data.replace(undefined, struct.pack("<LLLHH", mp_type, entry["Size"], entry["DataOffset"], 0, 0)))
    return path


def textured(size: tuple[int, int], seed: int) -> Image.Image:
    generator = torch.Generator().manual_seed(seed)
    small = (torch.rand(size[1] // 100, size[0] // 100, 3, generator=generator) * 255).to(torch.uint8).numpy()
    return Image.fromarray(small).resize(size, Image.BICUBIC)


def test_the_preview_is_decoded_and_gets_the_primary_images_orientation(tmp_path):
    picture = textured((4000, 3000), 1)
    path = camera_jpeg(tmp_path / "camera.jpg", picture, picture.resize((1920, 1440), Image.LANCZOS), orientation=6)
    fast = load_rgb(path, draft_size=512)
    assert fast.size == (720, 960)  # the preview at 1/2 scale, turned upright (a draft of the primary: 750x1000)
    full = load_rgb(path)
    assert full.size == (3000, 4000)


def test_other_frames_and_previews_of_another_shape_or_too_small_are_not_used(tmp_path):
    picture = textured((4000, 3000), 2)
    gain_map = Image.new("RGB", (1920, 1440), (128, 128, 128))  # what an HDR gain map looks like
    undefined = camera_jpeg(tmp_path / "gain.jpg", picture, gain_map, mp_type=0)
    assert load_rgb(undefined, draft_size=512).size == (1000, 750)  # the primary's DCT draft
    other_shape = camera_jpeg(tmp_path / "crop.jpg", picture, picture.resize((1920, 1080)))
    assert load_rgb(other_shape, draft_size=512).size == (1000, 750)
    too_small = camera_jpeg(tmp_path / "small.jpg", picture, picture.resize((640, 480)))
    assert load_rgb(too_small, draft_size=512).size == (1000, 750)


@pytest.fixture(scope="module")
def camera_photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mpf")
    written = []
    for source in camera_sized_photos(folder / "plain", variants=1):
        with Image.open(source) as opened:
            picture = opened.convert("RGB")
        scale = 1920 / max(picture.size)
        preview = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
        written.append(camera_jpeg(folder / source.name, picture, preview))
    return written


def test_preview_path_agrees_with_the_full_decode(camera_photos, demo_model, demo_label_sets):
    assert demo_model.precision == "fp32"
    exact = list(TaggingEngine(demo_model, demo_label_sets, fast_decode=False).run(camera_photos))
    fast = list(TaggingEngine(demo_model, demo_label_sets, fast_decode=True).run(camera_photos))
    assert all(isinstance(o, ImageResult) for o in exact + fast)
    cosine = (torch.stack([o.embedding for o in exact]) * torch.stack([o.embedding for o in fast])).sum(-1)
    tops = [[max(range(len(s.probabilities)), key=s.probabilities.__getitem__) for s in o.scores]
            for o in exact + fast]
    same = sum(a == b for x, y in zip(tops[:len(exact)], tops[len(exact):]) for a, b in zip(x, y))
    print(f"MPF preview vs full decode: min cosine {cosine.min():.5f}, same top {same}/{len(exact) * 3}")
    assert cosine.min().item() >= 0.995
    assert same / (len(exact) * len(demo_label_sets)) >= 0.99
