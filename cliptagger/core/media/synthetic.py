"""Procedurally generated captioned pictures: coloured shapes on backgrounds.

They train the bundled demo model (``tools/train_demo_model.py``), fill the folder that
``make demo`` tags, and give the tests images whose right answer is known.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from PIL import Image, ImageDraw, ImageFilter

SHAPES = ("circle", "square", "triangle", "star")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (40, 170, 50),
    "blue": (35, 70, 225),
    "yellow": (240, 215, 30),
    "purple": (140, 45, 170),
    "orange": (245, 135, 20),
}
BACKGROUNDS = ("white", "dark", "striped", "checkered")


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    background: str

    @property
    def caption(self) -> str:
        return f"a {self.colour} {self.shape} on a {self.background} background"

    @property
    def file_stem(self) -> str:
        return f"{self.colour}-{self.shape}-{self.background}"


def all_scenes() -> list[Scene]:
    return [Scene(s, c, b) for s in SHAPES for c in COLOURS for b in BACKGROUNDS]


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in rgb)  # type: ignore[return-value]


def _draw_background(draw: ImageDraw.ImageDraw, size: int, kind: str, rng: random.Random) -> None:
    if kind == "white":
        draw.rectangle([0, 0, size, size], fill=_jitter((240, 240, 240), rng, 12))
    elif kind == "dark":
        draw.rectangle([0, 0, size, size], fill=_jitter((28, 28, 32), rng, 20))
    else:
        light = _jitter((200, 200, 200), rng, 30)
        dark = _jitter((90, 90, 90), rng, 30)
        draw.rectangle([0, 0, size, size], fill=light)
        period = rng.randint(size // 10, size // 5)
        if kind == "striped":
            vertical = rng.random() < 0.5
            for offset in range(0, size, period * 2):
                box = [offset, 0, offset + period - 1, size] if vertical else [0, offset, size, offset + period - 1]
                draw.rectangle(box, fill=dark)
        else:  # checkered
            for y in range(0, size, period):
                for x in range(0, size, period):
                    if (x // period + y // period) % 2:
                        draw.rectangle([x, y, x + period - 1, y + period - 1], fill=dark)


def _shape_points(shape: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        corners = 4
        return [
            (cx + radius * math.cos(angle + math.pi / 4 + k * math.pi / 2),
             cy + radius * math.sin(angle + math.pi / 4 + k * math.pi / 2))
            for k in range(corners)
        ]
    if shape == "triangle":
        return [
            (cx + radius * math.cos(angle - math.pi / 2 + k * 2 * math.pi / 3),
             cy + radius * math.sin(angle - math.pi / 2 + k * 2 * math.pi / 3))
            for k in range(3)
        ]
    if shape == "star":
        points = []
        for k in range(10):
            r = radius if k % 2 == 0 else radius * 0.42
            a = angle - math.pi / 2 + k * math.pi / 5
            points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        return points
    raise ValueError(shape)


def render(scene: Scene, size: int = 256, seed: int | None = None) -> Image.Image:
    """Draw one scene at ``size`` x ``size`` pixels (supersampled, then smoothed down)."""
    return render_with_box(scene, size, seed)[0]


def render_with_box(scene: Scene, size: int = 256,
                    seed: int | None = None) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """``render``, plus the shape's bounding box (left, top, right, bottom) in output pixels:
    where an explanation of the shape's label should point (the same picture as ``render``)."""
    rng = random.Random(seed)
    big = size * 2
    image = Image.new("RGB", (big, big))
    draw = ImageDraw.Draw(image)
    _draw_background(draw, big, scene.background, rng)
    radius = big * rng.uniform(0.2, 0.34)
    cx = rng.uniform(radius, big - radius)
    cy = rng.uniform(radius, big - radius)
    fill = _jitter(COLOURS[scene.colour], rng, 18)
    if scene.shape == "circle":
        r = radius * 0.9
        points = [(cx - r, cy - r), (cx + r, cy + r)]
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        points = _shape_points(scene.shape, cx, cy, radius, rng.uniform(-0.35, 0.35))
        draw.polygon(points, fill=fill)
    image = image.resize((size, size), Image.Resampling.BICUBIC)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    xs, ys = [x / 2 for x, _ in points], [y / 2 for _, y in points]
    return image, (min(xs), min(ys), max(xs), max(ys))


def random_scenes(count: int, seed: int) -> Iterator[tuple[Scene, int]]:
    """``count`` (scene, render seed) pairs, cycling through every scene in random order."""
    rng = random.Random(seed)
    scenes = all_scenes()
    while True:
        rng.shuffle(scenes)
        for scene in scenes:
            if count <= 0:
                return
            count -= 1
            yield scene, rng.randrange(1 << 30)


def write_demo_folder(folder: Path, count: int = 48, seed: int = 2026, size: int = 256) -> list[tuple[Path, Scene]]:
    """Write ``count`` generated JPEGs into ``folder``; returns each file with its truth."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (scene, render_seed) in enumerate(random_scenes(count, seed)):
        path = folder / f"{index:03d}-{scene.file_stem}.jpg"
        render(scene, size=size, seed=render_seed).save(path, quality=92)
        written.append((path, scene))
    return written
