#!/usr/bin/env python3
"""The catalog's models side by side on this CPU, in one run (random weights: speed does not
depend on the values, and nothing is downloaded).

    python benchmarks/models.py [--rounds 5] [--models KEY,KEY] [--skip-text]

One row per catalog model, one column per measurement; each measurement is a function in
``MEASUREMENTS`` that takes the models' keys and returns {key: (median, min, max)}. To add
a column (e.g. explain latency), add a function and a line there.

* ``img/s``: the image encoder, batch 8, all cores, fp32, re-parameterized where the tower
  can be (MobileCLIP), every model in interleaved rounds (``core.model.speed``: what
  ``cliptagger models --measure`` stores).
* ``prototypes/s``: label text prototypes per second: a label's 9 "photo" prompts through
  the text tower (``ClipModel.encode_texts``, as cliptagger runs it) and ensembled, 16
  labels per call. Models are timed one after another (all text towers at once would not
  fit a small machine's memory), each in --rounds rounds. Hugging Face text towers
  (XLM-R, NLLB) are built from their published sizes (written here as configs: their
  hub configs cannot be fetched offline); their prompts are random token ids of the
  length the English prompts have, since their tokenizers are not on this machine.

Published accuracy is printed beside the figures (``core.model.catalog``).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Figure = tuple[float, float, float]  # median, min, max

#: The published sizes of the Hugging Face text towers (their hub config.json files).
HF_TEXT_CONFIGS: dict[str, dict[str, Any]] = {
    "xlm-roberta-base": {"model_type": "xlm-roberta", "vocab_size": 250002, "hidden_size": 768,
                         "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                         "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1,
                         "bos_token_id": 0, "eos_token_id": 2, "layer_norm_eps": 1e-5},
    "facebook/nllb-200-distilled-600M": {"model_type": "m2m_100", "vocab_size": 256206, "d_model": 1024,
                                         "encoder_layers": 12, "decoder_layers": 12,
                                         "encoder_attention_heads": 16, "decoder_attention_heads": 16,
                                         "encoder_ffn_dim": 4096, "decoder_ffn_dim": 4096,
                                         "max_position_embeddings": 1024, "pad_token_id": 1,
                                         "scale_embedding": True, "activation_function": "relu"},
}
LABELS_PER_CALL = 16


def catalog_models(keys: str) -> list[Any]:
    from cliptagger.core.model.catalog import CATALOG, DEMO_KEY

    chosen = [k.strip().casefold() for k in keys.split(",") if k.strip()] if keys else []
    return [e for e in CATALOG if e.key != DEMO_KEY and (not chosen or e.key.casefold() in chosen)]


def _figure(values: list[float]) -> Figure:
    return statistics.median(values), min(values), max(values)


# --------------------------------------------------------------------------- measurements


def image_speeds(entries: list[Any], rounds: int) -> dict[str, Figure]:
    from cliptagger.core.model.speed import measure_image_speeds

    rates = measure_image_speeds([e.arch for e in entries], rounds=rounds,
                                 progress=lambda text: print(f"   img/s: {text}", flush=True))
    return {e.key: _figure(rates[e.arch]) for e in entries}


class _StandInTokenizer:
    """Token ids of the length the real tokenizer would give an English prompt (random ids)."""

    def __init__(self, context_length: int, vocab_size: int, pad_id: int) -> None:
        import open_clip

        self.context_length, self.vocab_size, self.pad_id = context_length, vocab_size, pad_id
        self._lengths = open_clip.get_tokenizer("ViT-B-32")

    def __call__(self, texts: list[str]) -> Any:
        import torch

        generator = torch.Generator().manual_seed(0)
        tokens = torch.full((len(texts), self.context_length), self.pad_id, dtype=torch.long)
        for row, text in enumerate(texts):
            length = min(self.context_length, len(self._lengths.encode(text)) + 2)
            tokens[row, :length] = torch.randint(3, self.vocab_size, (length,), generator=generator)
        return tokens


def _text_model(entry: Any, scratch: Path) -> Any:
    """A ``ClipModel`` with random weights and a tokenizer that works offline."""
    import open_clip

    from cliptagger.core.model.clip import ClipModel
    from cliptagger.core.model.text_files import text_config

    cfg = text_config(entry.arch)
    overrides: dict[str, Any] = {}
    hf_name = cfg.get("hf_model_name")
    if hf_name:
        from transformers import AutoConfig

        folder = scratch / hf_name.replace("/", "--")
        values = dict(HF_TEXT_CONFIGS[hf_name])
        AutoConfig.for_model(values.pop("model_type"), **values).save_pretrained(str(folder))
        overrides["text_cfg"] = {**cfg, "hf_model_name": str(folder), "hf_model_pretrained": False}
    model = open_clip.create_model(entry.arch, pretrained=None, **overrides).eval()
    if cfg.get("hf_tokenizer_name"):
        vocab = HF_TEXT_CONFIGS.get(hf_name or "", {}).get("vocab_size", cfg.get("vocab_size", 32000))
        tokenizer: Callable[..., Any] = _StandInTokenizer(cfg.get("context_length", 77), vocab, 1)
    else:
        tokenizer = open_clip.get_tokenizer(entry.arch)
    return ClipModel(model=model, preprocess=lambda image: image, tokenizer=tokenizer,
                     model_id=f"{entry.arch}@random", arch=entry.arch, device="cpu")


def text_speeds(entries: list[Any], rounds: int) -> dict[str, Figure]:
    from cliptagger.core.tagging.scoring import ensemble
    from cliptagger.core.tagging.templates import TEMPLATE_SETS

    templates = TEMPLATE_SETS["photo"]
    words = ["dog", "beach at sunset", "birthday cake", "mountain lake", "city street at night", "cat", "forest",
             "snow", "car", "bicycle", "wedding", "concert", "boat", "flower", "bridge", "market"]
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        for entry in entries:
            print(f"   prototypes/s: {entry.key}", flush=True)
            clip = _text_model(entry, Path(scratch))
            prompts = [[t.replace("{}", w) for t in templates] for w in words[:LABELS_PER_CALL]]
            flat = [p for group in prompts for p in group]
            clip.encode_texts(flat[:4])  # warm-up
            rates = []
            for _ in range(rounds):
                started = time.perf_counter()
                embeddings = clip.encode_texts(flat)
                for index in range(len(prompts)):
                    ensemble(embeddings[index * len(templates):(index + 1) * len(templates)])
                rates.append(len(prompts) / (time.perf_counter() - started))
            figures[entry.key] = _figure(rates)
            del clip
            gc.collect()
    return figures


#: (column title, measurement). Add a line to add a column.
MEASUREMENTS: list[tuple[str, Callable[[list[Any], int], dict[str, Figure]]]] = [
    ("img/s", image_speeds),
    ("prototypes/s", text_speeds),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per model and measurement")
    parser.add_argument("--models", default="", help="comma-separated catalog keys (default: all but the demo)")
    parser.add_argument("--skip-text", action="store_true", help="only the image encoders")
    args = parser.parse_args()

    import torch

    from cliptagger.core.model.precision import cpu_model

    entries = catalog_models(args.models)
    measurements = [m for m in MEASUREMENTS if not (args.skip_text and m[0] == "prototypes/s")]
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.rounds} rounds, random weights, fp32")
    columns = {title: measure(entries, args.rounds) for title, measure in measurements}
    header = f"{'model':<15} {'ImageNet':>8} {'36 lang.':>8}" + "".join(f" {t + ' median (min-max)':>30}" for t in columns)
    print(header)
    for entry in entries:
        imagenet = f"{entry.imagenet:.1f}%" if entry.imagenet else "-"
        languages = f"{entry.xm3600_r1:.1f}%" if entry.xm3600_r1 else "-"
        cells = "".join(f" {f'{m:.1f} ({lo:.1f}-{hi:.1f})':>30}" for m, lo, hi in (columns[t][entry.key] for t in columns))
        print(f"{entry.key:<15} {imagenet:>8} {languages:>8}{cells}")
    base = "ViT-B-32-256"
    if "img/s" in columns and base in columns["img/s"]:
        reference = columns["img/s"][base][0]
        print(f"img/s relative to {base} (median): " + ", ".join(
            f"{key} {figure[0] / reference:.2f}x" for key, figure in columns["img/s"].items() if key != base))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
