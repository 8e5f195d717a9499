"""Memory is budgeted per decode, from the header, for every format: a small file that claims a
picture whose decode (with its conversions to RGB) would not fit is refused before a pixel is
decoded. And the fast (reduced-size) path never skips a photo the exact path reads."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image

from cliptagger.core.errors import ImageDecodeError
from cliptagger.core.media import images
from tests import helpers


def png_header_only(path, width, height, bit_depth, colour_type):
    """A valid PNG header claiming width x height, with a few bytes of pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("what, bit_depth, colour_type", [("RGBA", 8, 6), ("16-bit grey", 16, 0)])
def test_a_picture_too_costly_to_decode_is_refused_from_its_header(tmp_path, what, bit_depth, colour_type):
    path = png_header_only(tmp_path / "costly.png", 12_000, 12_000, bit_depth, colour_type)  # 144 MP: under the pixel cap
    assert 12_000 * 12_000 < images.MAX_PIXELS
    with pytest.raises(images.ImageTooLarge, match=r"would take about \d+\.\d GB of memory"):
        images.load_rgb(path)


def test_the_same_size_in_plain_rgb_fits_the_budget(tmp_path):
    path = png_header_only(tmp_path / "plain.png", 12_000, 12_000, 8, 2)
    with Image.open(path) as image:
        assert images.decode_cost(image) <= images.MAX_DECODE_BYTES
    with pytest.raises(ImageDecodeError) as refused:  # decoded, and found truncated: not a budget refusal
        images.load_rgb(path)
    assert not isinstance(refused.value, images.ImageTooLarge)


def test_webp_counts_its_decoders_own_canvas(tmp_path):
    path = tmp_path / "small.webp"
    Image.new("RGBA", (64, 48), (1, 2, 3, 4)).save(path, lossless=True)
    with Image.open(path) as image:
        png_like = 64 * 48 * (4 + 20)  # stored RGBA, then composited on white (measured: 20.3 bytes a pixel)
        assert images.decode_cost(image) == png_like + 64 * 48 * 8


def test_a_jpeg_is_budgeted_at_the_size_the_fast_path_decodes(tmp_path, monkeypatch):
    path = helpers.photo(tmp_path / "big.jpg", size=1024)
    with Image.open(path) as image:
        full_cost = images.decode_cost(image)
    monkeypatch.setattr(images, "MAX_DECODE_BYTES", full_cost - 1)
    assert min(images.load_rgb(path, draft_size=200).size) >= 200  # reduced: fits
    with pytest.raises(images.ImageTooLarge):
        images.load_rgb(path)  # full size: over


def test_what_the_fast_path_cannot_read_is_decoded_in_full(tmp_path, monkeypatch):
    from PIL import JpegImagePlugin

    path = helpers.photo(tmp_path / "odd.jpg", size=512)

    def failing_draft(self, mode, size):  # e.g. a JPEG whose reduced-scale decode breaks
        raise OSError("broken data stream when reading image file")

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", failing_draft)
    picture = images.load_rgb(path, draft_size=128)
    assert picture.size == (512, 512)  # the exact path's answer, not a skip


def test_a_size_refusal_is_not_tried_again_in_full(tmp_path, monkeypatch):
    path = helpers.photo(tmp_path / "big.png", size=256)
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(images.Image, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    with pytest.raises(images.ImageTooLarge):
        images.load_rgb(path, draft_size=64)
    assert len(opened) == 1
