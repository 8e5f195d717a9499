"""Drawing a heatmap grid over a picture (Pillow only: the CLI's PNG and the GUI's overlay).

The grid covers ``crop`` (left, top, right, bottom) of the picture, the part the model saw; it
is resized smoothly to that box, coloured from transparent blue (0) through yellow to red
(1), and blended over the picture. Plain data in, a new picture out: nothing is written here.
"""

from __future__ import annotations

from typing import Sequence

from PIL import Image

#: (position, (r, g, b)) stops of the colour ramp, 0 = no contribution, 1 = the peak.
_RAMP = ((0.0, (40, 60, 200)), (0.35, (40, 200, 220)), (0.6, (250, 230, 40)), (1.0, (230, 30, 30)))


def _colour(value: float) -> tuple[int, int, int]:
    value = min(1.0, max(0.0, value))
    for (low, low_rgb), (high, high_rgb) in zip(_RAMP, _RAMP[1:]):
        if value <= high:
            t = (value - low) / (high - low)
            return tuple(round(a + (b - a) * t) for a, b in zip(low_rgb, high_rgb))  # type: ignore[return-value]
    return _RAMP[-1][1]


def heat_layer(grid: Sequence[Sequence[float]], size: tuple[int, int], opacity: float = 0.55) -> Image.Image:
    """An RGBA picture of ``size`` whose colour and opacity follow the (smoothly resized) grid:
    where the grid is 0 it is fully transparent, so the photo shows through unchanged."""
    rows, columns = len(grid), len(grid[0]) if grid else 0
    if rows == 0 or columns == 0:
        raise ValueError("an empty heatmap grid")
    values = Image.new("L", (columns, rows))
    values.putdata([round(255 * min(1.0, max(0.0, v))) for row in grid for v in row])
    smooth = values.resize(size, Image.Resampling.BICUBIC)
    lookup_rgb = [_colour(level / 255) for level in range(256)]
    red = smooth.point([rgb[0] for rgb in lookup_rgb])
    green = smooth.point([rgb[1] for rgb in lookup_rgb])
    blue = smooth.point([rgb[2] for rgb in lookup_rgb])
    alpha = smooth.point([round(255 * opacity * (level / 255) ** 1.5) for level in range(256)])
    return Image.merge("RGBA", (red, green, blue, alpha))


def overlay(picture: Image.Image, grid: Sequence[Sequence[float]], crop: tuple[int, int, int, int],
            opacity: float = 0.55) -> Image.Image:
    """``picture`` (RGB) with the heat of ``grid`` blended over its ``crop`` box."""
    left, top, right, bottom = crop
    base = picture.convert("RGBA")
    layer = heat_layer(grid, (max(1, right - left), max(1, bottom - top)), opacity)
    canvas = Image.new("RGBA", base.size, (0, 0, 0, 0))
    canvas.paste(layer, (left, top))
    return Image.alpha_composite(base, canvas).convert("RGB")
