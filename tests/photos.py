"""Real photographs for tests, from the sample data scikit-image ships in its wheel."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

from PIL import Image

SAMPLES = ("astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "grass.png", "gravel.png",
           "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png", "motorcycle_right.png",
           "retina.jpg", "rocket.jpg", "coins.png", "page.png", "cell.png", "clock_motion.png")


def sample_folder() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise RuntimeError("scikit-image is a test dependency: pip install -e '.[test]'")
    return Path(spec.origin).parent / "data"


def camera_sized_photos(folder: Path, variants: int = 3, seed: int = 0) -> list[Path]:
    """Each sample photo as several large camera-like JPEGs (6-12 MP, various crops)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SAMPLES:
        with Image.open(sample_folder() / name) as source:
            picture = source.convert("RGB")
        for index in range(variants):
            width, height = picture.size
            crop_w, crop_h = int(width * rng.uniform(0.7, 1.0)), int(height * rng.uniform(0.7, 1.0))
            left, top = rng.randint(0, width - crop_w), rng.randint(0, height - crop_h)
            crop = picture.crop((left, top, left + crop_w, top + crop_h))
            megapixels = rng.uniform(6, 12) * 1e6
            scale = (megapixels / (crop_w * crop_h)) ** 0.5
            big = crop.resize((int(crop_w * scale), int(crop_h * scale)), Image.LANCZOS)
            path = folder / f"{Path(name).stem}-{index}.jpg"
            big.save(path, quality=rng.choice([85, 90, 95]))
            written.append(path)
    return written
