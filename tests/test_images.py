"""Decoding: orientation, colour modes, bad files and decompression bombs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cliptagger.core.errors import ImageDecodeError
from cliptagger.core.media import images
from cliptagger.core.media.scan import scan
from tests import helpers


def test_exif_orientation_is_applied(tmp_path):
    path, upright = helpers.exif_rotated_jpeg(tmp_path / "rotated.jpg")
    with Image.open(path) as raw:
        assert raw.size == (192, 256)  # stored sideways
    loaded = images.load_rgb(path)
    assert loaded.size == upright.size == (256, 192)
    difference = np.abs(np.asarray(loaded, dtype=int) - np.asarray(upright, dtype=int)).mean()
    assert difference < 6  # JPEG noise only; a wrong rotation differs by far more


def test_alpha_is_composited_on_white(tmp_path):
    loaded = images.load_rgb(helpers.rgba_png(tmp_path / "alpha.png"))
    assert loaded.mode == "RGB"
    assert loaded.getpixel((5, 5)) == (255, 255, 255)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    loaded = images.load_rgb(helpers.cmyk_jpeg(tmp_path / "cmyk.jpg"))
    assert loaded.mode == "RGB"
    r, g, b = np.asarray(loaded).reshape(-1, 3).mean(axis=0)
    assert r > 15 and g > 15  # a yellow square on dark: not black, not inverted white
    assert np.asarray(loaded).mean() < 200


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    path, expected = helpers.sixteen_bit_png(tmp_path / "deep.png")
    loaded = np.asarray(images.load_rgb(path))
    assert loaded.shape == expected.shape + (3,)
    assert np.abs(loaded[..., 0].astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize("mode", ["L", "P", "1", "LA", "RGBA"])
def test_other_modes(tmp_path, mode):
    base = helpers.photo(tmp_path / "base.png")
    path = tmp_path / f"mode-{mode}.png"
    Image.open(base).convert(mode).save(path)
    assert images.load_rgb(path).mode == "RGB"


def test_palette_with_transparency(tmp_path):
    image = Image.new("P", (32, 32), 1)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    image.paste(0, (0, 0, 8, 8))
    path = tmp_path / "pal.png"
    image.save(path, transparency=0)
    loaded = images.load_rgb(path)
    assert loaded.getpixel((1, 1)) == (255, 255, 255)
    assert loaded.getpixel((20, 20)) == (200, 10, 10)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, I am not a picture"), "not a recognised image"),
        (helpers.truncated_jpeg, "truncated"),
    ],
)
def test_bad_files_have_clear_reasons(tmp_path, make, reason):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(ImageDecodeError, match=reason):
        images.load_rgb(path)


def test_decompression_bomb_refused_before_decoding(tmp_path, monkeypatch):
    path = helpers.photo(tmp_path / "big.png", size=256)
    monkeypatch.setattr(images, "MAX_PIXELS", 256 * 255)
    with pytest.raises(ImageDecodeError, match="safety limit"):
        images.load_rgb(path)


def test_real_bomb_header_is_refused(tmp_path):
    """A tiny PNG that claims 100000 x 100000 pixels never gets decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\0" * 1000)
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    with pytest.raises(ImageDecodeError, match="10000 MP"):
        images.load_rgb(path)


def test_draft_decode_is_smaller_but_same_picture(tmp_path):
    path = helpers.photo(tmp_path / "big.jpg", size=1024)
    full = images.load_rgb(path)
    draft = images.load_rgb(path, draft_size=200)
    assert draft.size[0] < full.size[0] and min(draft.size) >= 200
    shrunk = full.resize(draft.size, Image.BILINEAR)
    assert np.abs(np.asarray(shrunk, dtype=int) - np.asarray(draft, dtype=int)).mean() < 8


def test_scan_recurses_dedups_and_skips_hidden(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".thumbnails").mkdir()
    one = helpers.photo(tmp_path / "a" / "one.JPG")
    two = helpers.photo(tmp_path / "a" / "b" / "two.png")
    helpers.photo(tmp_path / ".thumbnails" / "hidden.png")
    (tmp_path / "a" / "notes.txt").write_text("x")
    result = scan([tmp_path, one, tmp_path / "missing"])
    assert result.images == [one.resolve(), two.resolve()]
    assert [reason for _, reason in result.problems] == ["no such file or folder"]


def test_heic_photo_is_decoded_upright(tmp_path):
    upright = helpers.render(helpers.Scene("square", "orange", "white"), size=128, seed=4).crop((0, 0, 128, 96))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "IMG_0001.HEIC"
    stored.save(path, format="HEIF", exif=exif.tobytes(), quality=95)
    loaded = images.load_rgb(path)
    assert loaded.size == (128, 96)
    assert np.abs(np.asarray(loaded, dtype=int) - np.asarray(upright, dtype=int)).mean() < 8


def test_unreadable_raw_gets_a_per_file_error(tmp_path):
    path = tmp_path / "IMG_0002.CR2"
    path.write_bytes(b"II*\x00" + b"\x00" * 200)
    with pytest.raises(ImageDecodeError, match="cannot read camera RAW file"):
        images.load_rgb(path)


def test_scan_finds_heic_and_raw(tmp_path):
    for name in ("a.HEIC", "b.cr2", "c.NEF", "d.xmp", "e.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert sorted(p.name for p in scan([tmp_path]).images) == ["a.HEIC", "b.cr2", "c.NEF"]
