"""The pieces the embedded writer relies on: the image-data check, the undo delta, the
journal's cost per photo, and the containment rule for journal lines naming photos."""

from __future__ import annotations

import io
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cliptagger.core.metadata import embedded
from cliptagger.core.metadata.containment import undo_target_problem
from cliptagger.core.metadata.embedded import write_embedded
from cliptagger.core.metadata.embedded_checks import EmbedFormat, jpeg_scan_data, same_image_data
from cliptagger.core.metadata.undo_delta import DeltaError, apply_delta, make_delta
from tests.core.metadata import embedded_photos as photos


def _png(picture, level: int) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=level)
    return out.getvalue()


def test_same_image_data_sees_one_changed_pixel_and_ignores_the_encoding():
    from PIL import Image

    picture = Image.effect_mandelbrot((64, 48), (-2.0, -1.2, 1.0, 1.2), 40).convert("RGB")
    assert same_image_data(_png(picture, 1), _png(picture, 9), EmbedFormat.PNG)
    changed = picture.copy()
    changed.putpixel((10, 10), (0, 0, 1) if picture.getpixel((10, 10)) != (0, 0, 1) else (0, 0, 2))
    assert not same_image_data(_png(picture, 6), _png(changed, 6), EmbedFormat.PNG)


def test_same_image_data_compares_jpeg_scan_bytes(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg")
    data = photo.read_bytes()
    scan_at = len(data) - len(jpeg_scan_data(data))
    flipped = bytearray(data)
    flipped[scan_at + 400] ^= 0x01
    assert same_image_data(data, data, EmbedFormat.JPEG)
    assert not same_image_data(data, bytes(flipped), EmbedFormat.JPEG)
    table = data.index(b"\xff\xdb")  # a quantisation table: same scan bytes, other pixels
    other_table = bytearray(data)
    other_table[table + 10] ^= 0x01
    assert not same_image_data(data, bytes(other_table), EmbedFormat.JPEG)


def test_a_copy_with_changed_pixels_is_refused_and_the_photo_untouched(tmp_path, monkeypatch):
    photo = photos.plain_png(tmp_path / "IMG.png")
    before = photo.read_bytes()
    real = embedded._write_temp_copy

    def damaging_exiftool(*args, **kwargs):
        name = real(*args, **kwargs)
        from PIL import Image

        with Image.open(name) as image:
            image.load()
            broken = image.copy()
        broken.putpixel((0, 0), (1, 2, 3))
        broken.save(name, format="PNG")
        return name

    monkeypatch.setattr(embedded, "_write_temp_copy", damaging_exiftool)
    report = write_embedded({photo: ["dog"]})
    assert "changed the image data" in dict(report.failed)[photo]
    assert photo.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["IMG.png"]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=3000), st.integers(0, 3000), st.binary(max_size=300))
def test_delta_rebuilds_the_original(original, other, cut, inserted):
    written = original[:cut] + inserted + original[cut:]  # like a grown metadata segment
    assert apply_delta(make_delta(original, written), written) == original
    assert apply_delta(make_delta(original, other), other) == original


def test_delta_refuses_a_file_it_was_not_made_for():
    original = os.urandom(5000)
    delta = make_delta(original, original[:100] + b"new" + original[100:])
    try:
        apply_delta(delta, b"short")
    except DeltaError:
        pass
    else:
        raise AssertionError("a delta applied to another file must fail")


def test_journal_cost_per_photo_is_bounded_by_its_metadata_not_its_size(tmp_path):
    from PIL import Image

    photo = tmp_path / "IMG.jpg"
    Image.effect_noise((1200, 900), 60).convert("RGB").save(photo, quality=95)
    assert photo.stat().st_size > 300_000
    report = write_embedded({photo: [f"keyword {i}" for i in range(20)]})
    assert report.written == [photo], report.failed
    journal = report.journal.stat().st_size
    assert journal < 8_000, journal  # the old metadata, base64, and the line's fields; not the photo


def test_containment_lets_embedded_lines_name_only_photos(tmp_path):
    assert undo_target_problem(tmp_path / "IMG.jpg", photo=True) is None
    assert undo_target_problem(tmp_path / "IMG.dng", photo=True) is None
    assert undo_target_problem(Path("/etc/passwd"), photo=True)
    assert undo_target_problem(tmp_path / "IMG.CR2", photo=True)
    assert undo_target_problem(tmp_path / "IMG.jpg")  # a sidecar line may not name a photo


def test_a_dngs_raw_data_is_compared_byte_for_byte(tmp_path, monkeypatch):
    from cliptagger.core.metadata.tiff_data import tiff_image_data

    photo, raw = photos.dng_with_raw_subifd(tmp_path / "IMG.dng")
    assert raw in tiff_image_data(photo.read_bytes())  # the SubIFD's strip is found
    original = photo.read_bytes()
    report = write_embedded({photo: ["dog"]})
    assert report.written == [photo], report.failed
    assert raw in tiff_image_data(photo.read_bytes()) and photos.keywords_by_exiftool(photo) == ["dog"]
    photo.write_bytes(original)

    real = embedded._write_temp_copy

    def damaging_exiftool(*args, **kwargs):
        name = real(*args, **kwargs)
        data = bytearray(Path(name).read_bytes())
        at = bytes(data).index(raw)
        data[at + 100] ^= 0xFF  # one raw byte, where no decoder of IFD0 would look
        Path(name).write_bytes(bytes(data))
        return name

    monkeypatch.setattr(embedded, "_write_temp_copy", damaging_exiftool)
    report = write_embedded({photo: ["cat"]})
    assert "changed the image data" in dict(report.failed)[photo]
    assert photo.read_bytes() == original
