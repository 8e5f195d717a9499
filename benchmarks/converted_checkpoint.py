#!/usr/bin/env python3
"""Loading a Hugging Face CLIP folder: the first load (conversion) against later loads (cache).

    python benchmarks/converted_checkpoint.py [--keep DIR]

Builds a ViT-B/32-sized transformers ``CLIPModel`` with random weights (transformers'
default CLIPConfig: 151 M parameters, a 605 MB model.safetensors), saves it, and times
``load_model`` on it twice with an empty cliptagger cache: the first converts and stores
open_clip safetensors, the second finds them by the quick fingerprint. It also times that
fingerprint against a full SHA-256 of the weights (what a content-hash cache key would cost
on every start), and loads the converted file as an ordinary open_clip checkpoint
(``--model ViT-B-32 --checkpoint FILE``) for comparison. Needs transformers (the test extra). Prints ratios measured side by side.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_folder(folder: Path) -> None:
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    CLIPModel(CLIPConfig()).eval().save_pretrained(str(folder))  # no tokenizer files: the standard vocabulary


def timed(action):
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the folder here (and keep it) instead of a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["CLIPTAGGER_CACHE_DIR"] = str(Path(scratch) / "cache")
        os.environ["HF_HUB_OFFLINE"] = "1"
        folder = args.keep or Path(scratch) / "clip-vit-b32-random"
        if not (folder / "config.json").is_file():
            build_folder(folder)
        from cliptagger.core.model import converted, hf_convert
        from cliptagger.core.model.clip import load_model
        from cliptagger.core.model.weights import request_for

        request = request_for("ViT-B-32", checkpoint=folder)
        first, model = timed(lambda: load_model(request, device="cpu", precision="fp32"))
        second, again = timed(lambda: load_model(request, device="cpu", precision="fp32"))
        assert model.model_id == again.model_id
        plain = next(Path(os.environ["CLIPTAGGER_CACHE_DIR"], "converted").glob("*/model.safetensors"))
        # the path every open_clip checkpoint file takes (its model id hashes the whole file)
        baseline, _ = timed(lambda: load_model(request_for("ViT-B-32", checkpoint=plain), device="cpu", precision="fp32"))
        weights, small = hf_convert.weight_files(folder), hf_convert.small_files(folder)
        quick, _ = timed(lambda: converted.fingerprint(converted.HF, folder, weights, small))
        full, _ = timed(lambda: [converted._file_hash(path) for path in weights])
        size_mb = sum(path.stat().st_size for path in weights) / 1e6
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {size_mb:.0f} MB of weights")
        print(f"first load (convert + store + build): {first:.2f} s")
        print(f"second load (cached safetensors):     {second:.2f} s   ratio first/second {first / second:.1f}x")
        print(f"the same weights as an open_clip file (--model ViT-B-32 --checkpoint FILE): {baseline:.2f} s   "
              f"ratio cached/open_clip file {second / baseline:.2f}")
        print(f"cache key: quick fingerprint {quick * 1000:.2f} ms, full SHA-256 of the weights {full:.2f} s "
              f"(ratio {full / quick:.0f}x)")


if __name__ == "__main__":
    main()
