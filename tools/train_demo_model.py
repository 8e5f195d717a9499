#!/usr/bin/env python3
"""Train the bundled demo model from scratch, offline, in a few minutes on 2 CPU cores.

A tiny open_clip architecture (``resources/models/cliptagger-demo.json``) learns CLIP's
contrastive objective on procedurally generated captioned pictures (coloured shapes on
backgrounds, ``cliptagger.core.media.synthetic``). It then has to pass a zero-shot test on
freshly generated, held-out pictures through cliptagger's own scoring, with the demo
label sets in ``resources/labels/demo.json``. The weights are saved as fp16 safetensors.

    python tools/train_demo_model.py [--steps 1200] [--out resources/models/cliptagger-demo.safetensors]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cliptagger.core.media import synthetic  # noqa: E402
from cliptagger.core.model.catalog import DEMO_ARCH  # noqa: E402
from cliptagger.core.tagging.labels import load_label_sets  # noqa: E402
from cliptagger.core.tagging.templates import PHOTO_TEMPLATES  # noqa: E402

COLOUR_TEMPLATES = ("a photo of a {} shape.", "a {} shape.", "something {}.")
BACKGROUND_TEMPLATES = ("a photo of a shape on a {} background.", "a shape on a {} background.")
FULL_TEMPLATES = ("a {}", "a photo of a {}.", "a picture of a {}.", "{}")
GENERIC_CAPTIONS = ("a photo.", "a picture.", "an image.")


def caption_for(scene: synthetic.Scene, rng: random.Random) -> str:
    """One of several partial or full descriptions, matching how label sets prompt."""
    s, c, b = scene.shape, scene.colour, scene.background
    roll = rng.random()
    if roll < 0.28:
        return rng.choice(FULL_TEMPLATES).format(f"{c} {s} on a {b} background")
    if roll < 0.43:
        return rng.choice(PHOTO_TEMPLATES).format(s)
    if roll < 0.58:
        return rng.choice(PHOTO_TEMPLATES).format(f"{c} {s}")
    if roll < 0.73:
        return rng.choice(COLOUR_TEMPLATES).format(c)
    if roll < 0.86:
        return rng.choice(BACKGROUND_TEMPLATES).format(b)
    if roll < 0.97:
        return f"a photo of a {s} on a {b} background."
    return rng.choice(GENERIC_CAPTIONS)


def _render_chunk(args: tuple[int, int, int]) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
    count, seed, size = args
    pixels, truths = [], []
    for scene, render_seed in synthetic.random_scenes(count, seed):
        pixels.append(np.asarray(synthetic.render(scene, size=size, seed=render_seed), dtype=np.uint8))
        truths.append((scene.shape, scene.colour, scene.background))
    return np.stack(pixels), truths


def make_dataset(count: int, seed: int, size: int, workers: int = 2) -> tuple[torch.Tensor, list[synthetic.Scene]]:
    chunk = 1000
    jobs = [(min(chunk, count - start), seed * 1000 + start, size) for start in range(0, count, chunk)]
    with Pool(workers) as pool:
        parts = pool.map(_render_chunk, jobs)
    pixels = torch.from_numpy(np.concatenate([p for p, _ in parts])).permute(0, 3, 1, 2).contiguous()
    scenes = [synthetic.Scene(*t) for _, truths in parts for t in truths]
    return pixels, scenes


def normalize(pixels_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (pixels_uint8.float() / 255.0 - mean) / std


def contrastive_loss(image_features, text_features, logit_scale, caption_ids: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric cross-entropy; pairs with the very same caption count as positives."""
    logits = logit_scale * image_features @ text_features.T
    same = (caption_ids[:, None] == caption_ids[None, :]).float()
    targets = same / same.sum(dim=1, keepdim=True)
    loss_images = torch.sum(-targets * F.log_softmax(logits, dim=1), dim=1).mean()
    loss_texts = torch.sum(-targets * F.log_softmax(logits.T, dim=1), dim=1).mean()
    return (loss_images + loss_texts) / 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--train-images", type=int, default=24000)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "resources/models/cliptagger-demo.safetensors")
    args = parser.parse_args()

    import open_clip
    from safetensors.torch import save_file

    from cliptagger.core.model.clip import register_demo_config

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    register_demo_config()
    model, _, preprocess = open_clip.create_model_and_transforms(DEMO_ARCH)
    tokenizer = open_clip.get_tokenizer(DEMO_ARCH)
    size = model.visual.image_size[0] if isinstance(model.visual.image_size, tuple) else model.visual.image_size
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    params = sum(p.numel() for p in model.parameters())
    print(f"model {DEMO_ARCH}: {params / 1e6:.2f} M parameters, input {size}px")

    started = time.time()
    pixels, scenes = make_dataset(args.train_images, args.seed, size)
    print(f"rendered {len(scenes)} training pictures in {time.time() - started:.0f} s")

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "embedding" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    warmup = max(1, args.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, args.steps) / args.steps)),
    )
    rng = random.Random(args.seed)
    model.train()
    started = time.time()
    for step in range(args.steps):
        index = torch.randint(0, len(scenes), (args.batch,))
        batch = pixels[index]
        if rng.random() < 0.5:
            batch = batch.flip(3)
        captions = [caption_for(scenes[i], rng) for i in index.tolist()]
        ids = {c: k for k, c in enumerate(dict.fromkeys(captions))}
        caption_ids = torch.tensor([ids[c] for c in captions])
        images = normalize(batch, mean, std)
        images = images + 0.03 * torch.randn_like(images)
        image_features = F.normalize(model.encode_image(images), dim=-1)
        text_features = F.normalize(model.encode_text(tokenizer(captions)), dim=-1)
        loss = contrastive_loss(image_features, text_features, model.logit_scale.exp(), caption_ids)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.3f}  scale {model.logit_scale.exp().item():.1f}  "
                  f"{time.time() - started:.0f} s", flush=True)

    model.eval()
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out), metadata={"arch": DEMO_ARCH, "trained_by": "tools/train_demo_model.py"})
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return evaluate(args.out)


def evaluate(checkpoint: Path, count: int = 400) -> int:
    """Zero-shot accuracy on held-out pictures through cliptagger's engine; 0 when >= 90%."""
    import tempfile

    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import ModelRequest
    from cliptagger.core.tagging.engine import ImageResult, TaggingEngine

    label_sets = load_label_sets(ROOT / "resources/labels/demo.json")
    model = load_model(ModelRequest(arch=DEMO_ARCH, checkpoint=checkpoint), device="cpu")
    engine = TaggingEngine(model, label_sets, batch_size=64)
    with tempfile.TemporaryDirectory() as folder:
        written = synthetic.write_demo_folder(Path(folder), count=count, seed=99991)
        truth = {path: scene for path, scene in written}
        correct = {s.name: 0 for s in label_sets}
        for outcome in engine.run([p for p, _ in written]):
            assert isinstance(outcome, ImageResult), outcome
            scene = truth[outcome.path]
            expected = {"Shape": scene.shape, "Colour": scene.colour, "Background": scene.background}
            for scores in outcome.scores:
                best = max(zip(scores.probabilities, scores.label_set.labels), key=lambda pair: pair[0])[1]
                correct[scores.label_set.name] += best.name == expected[scores.label_set.name]
    accuracies = {name: hits / count for name, hits in correct.items()}
    print("held-out zero-shot accuracy: " + ", ".join(f"{n} {a:.1%}" for n, a in accuracies.items()))
    return 0 if min(accuracies.values()) >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
