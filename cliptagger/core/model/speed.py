"""How fast each catalog model encodes photos on this computer, measured, not guessed.

Speed depends on the architecture, not the weights' values, so the image tower is built
with random weights (nothing is downloaded) and a one-layer stand-in text tower (the text
side is not timed; a Hugging Face text tower would need its config from the hub). It runs
the way ``load_model`` runs it on a CPU: fp32, re-parameterized where the tower can be
(MobileCLIP). Models are measured in interleaved rounds (ABAB...), so that a burst of load
from another program slows every model alike, and each keeps its median.

Results are kept per CPU, torch version and architecture in ``<cache dir>/model-speed.json``
(``cliptagger models --measure`` fills it; ``cliptagger models`` shows it).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from cliptagger.core.model.precision import cpu_model
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import atomic_write_text
from cliptagger.core.storage.strict_json import read_json_file

SPEED_FILE = "model-speed.json"
MAX_SPEED_FILE_BYTES = 1024 * 1024
#: Images per timed call: the engine's CPU batch is 16; 8 keeps a round short on slow CPUs.
SPEED_BATCH = 8
SPEED_ROUNDS = 5
#: The text tower built in place of the real one while timing images.
STAND_IN_TEXT = {"context_length": 8, "vocab_size": 64, "width": 64, "heads": 1, "layers": 1}


def build_image_tower(arch: str) -> tuple[Any, int]:
    """(open_clip model with random weights and the stand-in text tower, image size), on CPU."""
    import open_clip

    from cliptagger.core.model.clip import register_demo_config, reparameterize

    register_demo_config()
    model = open_clip.create_model(arch, pretrained=None, text_cfg=dict(STAND_IN_TEXT)).eval()
    reparameterize(model)
    size = model.visual.image_size
    return model, int(size[0] if isinstance(size, (tuple, list)) else size)


def measure_image_speeds(archs: Sequence[str], rounds: int = SPEED_ROUNDS, batch: int = SPEED_BATCH,
                         progress: Optional[Callable[[str], None]] = None) -> dict[str, list[float]]:
    """Images per second of each architecture's image tower, one figure per round; the
    rounds of all the models are interleaved (see the module docstring)."""
    import torch

    towers = {}
    for arch in archs:
        if progress is not None:
            progress(f"building {arch}")
        model, size = build_image_tower(arch)
        pixels = torch.randn(batch, 3, size, size)
        with torch.inference_mode():
            model.encode_image(pixels[:2])  # warm-up: first-call allocations are not the model's speed
        towers[arch] = (model, pixels)
    rates: dict[str, list[float]] = {arch: [] for arch in archs}
    with torch.inference_mode():
        for round_index in range(rounds):
            for arch, (model, pixels) in towers.items():
                started = time.perf_counter()
                model.encode_image(pixels)
                rates[arch].append(batch / (time.perf_counter() - started))
            if progress is not None:
                progress(f"round {round_index + 1} of {rounds}")
    return rates


def measure_and_store(archs: Sequence[str], progress: Optional[Callable[[str], None]] = None,
                      rounds: int = SPEED_ROUNDS, batch: int = SPEED_BATCH) -> dict[str, float]:
    """Measure, keep each median in the speed file, and return {arch: img/s}."""
    import torch

    rates = measure_image_speeds(archs, rounds=rounds, batch=batch, progress=progress)
    medians = {arch: statistics.median(r) for arch, r in rates.items()}
    stored = _read()
    for arch, rate in medians.items():
        stored[_key(arch)] = {"img_per_s": round(rate, 2), "threads": torch.get_num_threads(),
                              "batch": batch, "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        _path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(_path(), json.dumps(stored, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only cache only means measuring again next time
    return medians


def measured_speed(arch: str) -> Optional[float]:
    """The last measured img/s of ``arch`` on this CPU and torch (None: never measured)."""
    entry = _read().get(_key(arch))
    value = entry.get("img_per_s") if isinstance(entry, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def _key(arch: str) -> str:
    import torch

    return f"{cpu_model()} | torch {torch.__version__} | {arch}"


def _path() -> Path:
    return paths.cache_dir() / SPEED_FILE


def _read() -> dict[str, Any]:
    try:
        data = read_json_file(_path(), MAX_SPEED_FILE_BYTES)
    except (OSError, ValueError):  # missing or damaged: measured again, the file rewritten whole
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}
