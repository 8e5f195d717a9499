"""Small image factories for tests: real files with known content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cliptagger.core.media.synthetic import Scene, render  # noqa: F401  (re-exported for tests)


def photo(path: Path, scene: Scene = Scene("circle", "red", "white"), size: int = 256, seed: int = 1) -> Path:
    image = render(scene, size=size, seed=seed)
    image.save(path, **({"quality": 92} if path.suffix.lower() in (".jpg", ".jpeg") else {}))
    return path


def truncated_jpeg(path: Path) -> Path:
    good = path.with_name("_full_" + path.name)
    photo(good)
    data = good.read_bytes()
    good.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def rgba_png(path: Path, scene: Scene = Scene("star", "blue", "white")) -> Path:
    image = render(scene).convert("RGBA")
    alpha = Image.new("L", image.size, 255)
    alpha.paste(0, (0, 0, 40, 40))  # a transparent corner
    image.putalpha(alpha)
    image.save(path)
    return path


def exif_rotated_jpeg(path: Path, scene: Scene = Scene("triangle", "green", "white")) -> tuple[Path, Image.Image]:
    """Store the picture rotated 90 degrees with EXIF orientation 6 saying how to turn it back."""
    upright = render(scene, size=256, seed=3).crop((0, 0, 256, 192))  # not square: rotation shows
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    stored.save(path, quality=95, exif=exif.tobytes())
    return path, upright


def cmyk_jpeg(path: Path, scene: Scene = Scene("square", "yellow", "dark")) -> Path:
    render(scene).convert("CMYK").save(path, quality=95)
    return path


def sixteen_bit_png(path: Path) -> tuple[Path, np.ndarray]:
    """A greyscale 16-bit gradient; returns the 8-bit values a viewer would show."""
    ramp = np.linspace(0, 65535, 256, dtype=np.float64)
    values = np.tile(ramp, (128, 1)).astype(np.uint16)
    Image.fromarray(values).save(path)  # uint16 arrays become mode I;16
    return path, np.round(values / 257.0).astype(np.uint8)
