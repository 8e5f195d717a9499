"""An OpenAI CLIP ``.pt`` file (the TorchScript archive ``clip.load`` downloads) as open_clip weights.

open_clip's ``create_model(pretrained=FILE)`` reads checkpoints with ``weights_only=True``
and so cannot read these archives. They are TorchScript programs: ``torch.jit.load`` is
the only thing that reads them here (no pickle of Python objects), only the weights are
kept, and they are stored once as safetensors in cliptagger's cache (``converted.py``).
A ``.pt`` file still bears code: use ones from a source you trust.

open_clip's ``CLIP`` keeps OpenAI's tensor names, so the state dict needs no renaming;
the architecture is read from the tensor shapes exactly as open_clip's
``build_model_from_openai_state_dict`` does it (ViT and ResNet image towers).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

from cliptagger.core.model.hf_convert import OPENAI_MEAN, OPENAI_STD, Conversion, not_usable

#: Scalars OpenAI's archives keep next to the weights; open_clip's CLIP has no such tensors.
_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")


def is_torchscript_archive(path: Path) -> bool:
    """A zip with TorchScript's ``code/`` and ``constants.pkl`` (``torch.save`` archives have neither)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    inner = {name.split("/", 1)[1] if "/" in name else name for name in names}
    return "constants.pkl" in inner and any(name.startswith("code/") for name in inner)


def read_archive(path: Path) -> dict[str, Any]:
    """The archive's tensors, through ``torch.jit.load`` alone."""
    import torch

    try:
        with warnings.catch_warnings():  # torch deprecates TorchScript; these archives are TorchScript
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as err:  # a damaged archive or one newer torch cannot read
        raise not_usable(path, f"it is a TorchScript file that cannot be read "
                               f"({' '.join(str(err).split())[:200]})") from None
    return {key: value.detach() for key, value in module.state_dict().items()}


def model_config(state: dict[str, Any]) -> dict[str, Any]:
    """open_clip's CLIP config for an OpenAI state dict (``KeyError`` when it is not one)."""
    if "visual.proj" in state:
        conv = state["visual.conv1.weight"]
        grid = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        vision: dict[str, Any] = {
            "layers": len([k for k in state if k.startswith("visual.") and k.endswith(".attn.in_proj_weight")]),
            "width": int(conv.shape[0]),
            "patch_size": int(conv.shape[-1]),
            "image_size": int(conv.shape[-1]) * grid,
        }
    else:
        layers = [len({k.split(".")[2] for k in state if k.startswith(f"visual.layer{b}.")}) for b in (1, 2, 3, 4)]
        output_width = round((state["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
        vision = {"layers": layers, "width": int(state["visual.layer1.0.conv1.weight"].shape[0]),
                  "image_size": output_width * 32}
    text_width = int(state["ln_final.weight"].shape[0])
    return {
        "embed_dim": int(state["text_projection"].shape[1]),
        "quick_gelu": True,  # OpenAI trained with QuickGELU
        "vision_cfg": vision,
        "text_cfg": {
            "context_length": int(state["positional_embedding"].shape[0]),
            "vocab_size": int(state["token_embedding.weight"].shape[0]),
            "width": text_width,
            "heads": text_width // 64,
            "layers": len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")}),
        },
    }


def convert_file(path: Path) -> Conversion:
    """The weights, config and preprocessing of an OpenAI ``.pt`` archive, or one clear reason why not."""
    state = read_archive(path)
    try:
        model_cfg = model_config(state)
    except KeyError as err:
        raise not_usable(path, f"it is a TorchScript file but not an OpenAI CLIP (no tensor {err.args[0]})") from None
    weights = {key: value.contiguous() for key, value in state.items() if key not in _EXTRA_KEYS}
    preprocess = {"size": model_cfg["vision_cfg"]["image_size"], "mean": OPENAI_MEAN, "std": OPENAI_STD,
                  "interpolation": "bicubic", "resize_mode": "shortest"}
    return Conversion(weights, model_cfg, preprocess)
