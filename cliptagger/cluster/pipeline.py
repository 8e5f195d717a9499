"""The Ray side: decode in CPU tasks, encode in an actor pool. Imports Ray (the extra).

Decoding is cliptagger's own (``load_rgb`` + the model's preprocess, the same draft size as
the engine), so RAW/HEIC/EXIF orientation/MPF previews and every bad-file reason are those of
one machine. A photo that cannot be read becomes a row with its reason, never a failed task.
Photos are read by path: every node must see the archive at the same path (a shared file
system; see docs/cluster.md).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np

from cliptagger.core.errors import CliptaggerError, ImageDecodeError
from cliptagger.core.media.images import load_rgb
from cliptagger.core.tagging.cache import file_stamp

#: Blocks the photo list is cut into (one per batch up to this: 10 million photos stay cheap to plan).
MAX_BLOCKS = 4096
DECODE_RETRIES = 3


@dataclass(frozen=True)
class ModelSpec:
    """What an actor needs to load the driver's model itself (weights must be on every node)."""

    model: str
    pretrained: str = ""
    checkpoint: Optional[str] = None
    text_language: str = ""
    precision: str = "auto"
    device: str = "auto"        # an actor given a GPU by Ray sees it; a CPU actor sees none

    def load(self) -> Any:
        from cliptagger.core.model.clip import load_model
        from cliptagger.core.model.weights import request_for

        request = request_for(self.model, self.pretrained, self.checkpoint, self.text_language)
        return load_model(request, device=self.device, allow_download=False, precision=self.precision)


def split_preprocess(preprocess: Callable[[Any], Any]) -> tuple[Callable[[Any], Any], Optional[Callable[[Any], Any]]]:
    """(the part the decode task runs, the tail the actor runs), so pixels travel as uint8.

    open_clip's preprocess ends in ToTensor + Normalize: everything before them yields the
    final-size RGB picture, which travels as 8-bit pixels (a quarter of float32); the actor
    applies the same two steps to the same pixels, so the tensors are exactly the engine's.
    Another shape of preprocess runs whole in the task (``(preprocess, None)``: float32 travels).
    """
    from torchvision import transforms

    steps = getattr(preprocess, "transforms", None)
    if (isinstance(steps, list) and len(steps) >= 3 and isinstance(steps[-2], transforms.ToTensor)
            and isinstance(steps[-1], transforms.Normalize)):
        return transforms.Compose(steps[:-2]), transforms.Compose(steps[-2:])
    return preprocess, None


def decode_batch(batch: dict[str, np.ndarray], preprocess: Callable[[Any], Any],
                 draft_size: Optional[int], pixel_shape: tuple[int, ...], as_pictures: bool) -> dict[str, np.ndarray]:
    """Decode and preprocess a batch of photos (a Ray CPU task); a failure is a row with its reason.

    ``as_pictures``: ``preprocess`` is the head of ``split_preprocess`` and the rows are uint8
    (H, W, 3) pictures; else the whole preprocess, float32 (3, H, W) tensors."""
    count = len(batch["path"])
    pixels = np.zeros((count, *pixel_shape), dtype=np.uint8 if as_pictures else np.float32)
    errors: list[str] = []
    sizes, mtimes, inodes = (np.array(batch[k], dtype=np.int64) for k in ("size", "mtime_ns", "inode"))
    for index, key in enumerate(batch["path"]):
        path = os.fsdecode(bytes(key))
        listed = (int(sizes[index]), int(mtimes[index]), int(inodes[index]))
        try:
            if file_stamp(path) != listed:
                raise ImageDecodeError("the file changed after it was listed")
            picture = load_rgb(path, draft_size=draft_size)  # type: ignore[arg-type]
            prepared = preprocess(picture)
            if file_stamp(path) != listed:
                raise ImageDecodeError("the file changed while it was read")
            array = np.asarray(prepared.convert("RGB")) if as_pictures else prepared.numpy()
            if array.shape != pixel_shape:
                raise ImageDecodeError(f"preprocessed to {array.shape}, not the model's {pixel_shape}")
            pixels[index] = array
            errors.append("")
        except ImageDecodeError as err:
            errors.append(str(err) or "cannot decode image")
        except Exception as err:  # a decoder bug must not end the job (as in the engine)
            errors.append(f"unexpected error: {err!r}")
    return {"path": batch["path"], "size": sizes, "mtime_ns": mtimes, "inode": inodes,
            "pixels": pixels, "error": np.array(errors, dtype=object)}


class Encoder:
    """One model per actor (one actor per GPU, or CPU actors): pixels in, embeddings out."""

    def __init__(self, spec: ModelSpec, cpu_threads: int, tail: Optional[Callable[[Any], Any]] = None) -> None:
        import torch

        if cpu_threads > 0:
            torch.set_num_threads(cpu_threads)
        self.model = spec.load()
        self.tail = tail  # ToTensor + Normalize of uint8 pictures (split_preprocess), else None

    def tensors(self, pixels: np.ndarray) -> Any:
        import torch
        from PIL import Image

        if self.tail is None:
            return torch.from_numpy(np.ascontiguousarray(pixels))
        return torch.stack([self.tail(Image.fromarray(np.ascontiguousarray(p), "RGB")) for p in pixels])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:

        errors = np.array([str(e) for e in batch["error"]], dtype=object)
        good = errors == ""
        count = len(errors)
        embeddings: Optional[np.ndarray] = None
        if good.any():
            encoded = self.model.encode_pixels(self.tensors(batch["pixels"][good]))
            encoded_np = encoded.numpy().astype(np.float32)
            embeddings = np.zeros((count, encoded_np.shape[1]), dtype=np.float32)
            embeddings[good] = encoded_np
        else:
            embeddings = np.zeros((count, 1), dtype=np.float32)
        return {"path": batch["path"], "size": batch["size"], "mtime_ns": batch["mtime_ns"],
                "inode": batch["inode"], "model_id": np.array([self.model.model_id] * count, dtype=object),
                "embedding": embeddings, "error": errors}


@dataclass(frozen=True)
class PoolPlan:
    actors: int
    gpus_per_actor: float
    cpus_per_actor: float


def plan_pool(resources: dict[str, float], actors: Optional[int] = None) -> PoolPlan:
    """One actor per GPU where there are GPUs; else CPU actors on half the cores (the other half
    decodes), at least one."""
    gpus = int(resources.get("GPU", 0))
    if gpus > 0:
        return PoolPlan(actors or gpus, 1.0, 1.0)
    cpus = int(resources.get("CPU", 1))
    return PoolPlan(actors or max(1, cpus // 2), 0.0, 1.0)


def connect(address: str, num_cpus: Optional[int] = None) -> Any:
    """``ray.init`` for an address, ``auto`` (a running cluster) or ``local`` (this machine)."""
    import logging

    import ray

    for name in ("ray", "ray.data"):  # its INFO lines would bury the progress bar and the results
        logging.getLogger(name).setLevel(logging.WARNING)
    if ray.is_initialized():
        return ray
    try:
        if address == "local":
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     object_store_memory=200 * 1024**2)
        else:
            ray.init(address=address, log_to_driver=False)
    except Exception as err:  # no cluster there, a refused connection, a version mismatch
        raise CliptaggerError(f"cannot start or reach Ray at {address!r}: {err} (start a cluster with "
                              "`ray start --head`, or use --ray local)") from None
    return ray


def encoded_batches(rows: list[dict[str, Any]], spec: ModelSpec, preprocess: Callable[[Any], Any],
                    draft_size: Optional[int], image_size: int, batch_size: int,
                    actors: Optional[int] = None, encoder: type[Encoder] = Encoder,
                    shard_rows: Optional[int] = None) -> Iterator[dict[str, np.ndarray]]:
    """Run the dataset and yield each encoded batch as it completes (numpy columns).

    ``encoder``: the actor class (tests pass one whose worker dies mid-batch)."""
    import ray
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    head, tail = split_preprocess(preprocess)
    pixel_shape = (image_size, image_size, 3) if tail is not None else (3, image_size, image_size)
    cluster_resources: Any = ray.cluster_resources  # untyped in Ray
    plan = plan_pool(cluster_resources(), actors)
    # One block per batch (capped): the driver hears of each batch as it finishes.
    blocks = max(1, min(MAX_BLOCKS, -(-len(rows) // batch_size)))
    dataset: Any = ray.data.from_items(rows, override_num_blocks=blocks)
    # max_retries: a decode task on a worker that dies runs again elsewhere. (It also keeps
    # Ray from fusing decoding into the encoder actors: the two have different remote args.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # newer Ray wants max_retries named differently; 2.9 knows only this
        dataset = dataset.map_batches(decode_batch, batch_size=batch_size, batch_format="numpy", num_cpus=1,
                                      max_retries=DECODE_RETRIES,
                                      fn_kwargs={"preprocess": head, "draft_size": draft_size,
                                                 "pixel_shape": pixel_shape, "as_pictures": tail is not None})
    dataset = dataset.map_batches(encoder, batch_size=batch_size, batch_format="numpy",
                                  fn_constructor_kwargs={"spec": spec, "cpu_threads": int(plan.cpus_per_actor),
                                                         "tail": tail},
                                  compute=ray.data.ActorPoolStrategy(size=plan.actors),
                                  num_gpus=plan.gpus_per_actor, num_cpus=plan.cpus_per_actor)
    yield from dataset.iter_batches(batch_size=shard_rows or batch_size, batch_format="numpy")
