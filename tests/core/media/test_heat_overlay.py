"""Drawing a heatmap over a picture: nothing where the map is 0, the peak's colour where it is 1,
and only inside the crop box the model saw."""

from __future__ import annotations

from PIL import Image

from cliptagger.core.media.heat_overlay import heat_layer, overlay


def test_heat_shows_only_where_the_map_is_warm_and_inside_the_crop():
    picture = Image.new("RGB", (300, 200), (128, 128, 128))
    grid = ((0.0, 0.0, 0.0, 0.0),) * 3 + ((0.0, 0.0, 0.0, 1.0),)  # the bottom-right cell
    drawn = overlay(picture, grid, (50, 0, 250, 200))  # the centred square a model sees
    assert drawn.size == picture.size and drawn.mode == "RGB"
    assert drawn.getpixel((10, 100)) == (128, 128, 128)       # outside the crop: untouched
    assert drawn.getpixel((60, 10)) == (128, 128, 128)        # a cold cell: untouched
    red, green, blue = drawn.getpixel((235, 185))             # the hot cell: red over grey
    assert red > 170 and green < 110 and blue < 110


def test_the_layer_is_transparent_at_zero_and_most_opaque_at_the_peak():
    layer = heat_layer(((0.0, 0.5, 1.0),), (30, 10), opacity=0.5)
    alphas = [layer.getpixel((x, 5))[3] for x in (1, 15, 28)]
    assert alphas[0] == 0 and alphas[0] < alphas[1] < alphas[2] <= 128
