"""A Hugging Face ``transformers`` CLIP folder turned into open_clip's ``CLIP`` state dict.

Reads ``config.json``, ``preprocessor_config.json``, the tokenizer files and the weights
(``model.safetensors`` or ``pytorch_model.bin``, sharded or not) directly: transformers
is never imported. The key mapping is the inverse of transformers'
``convert_clip_original_pytorch_to_hf.py``:

* q/k/v projections are concatenated into ``attn.in_proj_weight``/``in_proj_bias``;
* ``text_projection``/``visual_projection`` (``nn.Linear`` weights) are transposed into
  open_clip's projection matrices;
* ``pre_layrnorm`` is ``ln_pre``, ``post_layernorm`` is ``ln_post``, ``final_layer_norm``
  is ``ln_final``; ``position_ids`` buffers are dropped.

Text pooling agrees: HF pools at the first end-of-text token (or the argmax of the ids for
old configs), open_clip at the argmax of the ids, which is the same position because
end-of-text (49407) is the largest id of CLIP's vocabulary and open_clip pads with 0.
The text is tokenized by open_clip's ``SimpleTokenizer``; a folder whose vocabulary is not
CLIP's standard BPE vocabulary is refused rather than tokenized wrongly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cliptagger.core.errors import WeightsProblem, WeightsUnavailableError
from cliptagger.core.storage.strict_json import UntrustedJSONError, read_json_file

CONFIG = "config.json"
PREPROCESSOR = "preprocessor_config.json"
VOCAB, MERGES, TOKENIZER_JSON = "vocab.json", "merges.txt", "tokenizer.json"
WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin")
INDEX_SUFFIX = ".index.json"
#: Files that, picked in a file dialog, stand for the folder they are in.
FOLDER_ENTRY_NAMES = frozenset(
    [CONFIG, PREPROCESSOR, *WEIGHT_NAMES, *(name + INDEX_SUFFIX for name in WEIGHT_NAMES)])
SMALL_FILES = (CONFIG, PREPROCESSOR, VOCAB, MERGES, TOKENIZER_JSON)

STANDARD_VOCAB_SIZE = 49408
SPECIAL_TOKENS = {"<|startoftext|>": 49406, "<|endoftext|>": 49407}
ACTIVATIONS = ("quick_gelu", "gelu")  # HF "gelu" is the exact (erf) GELU, open_clip's nn.GELU
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
INTERPOLATIONS = {2: "bilinear", 3: "bicubic"}  # PIL resample codes open_clip's transforms support
_MAX_JSON_BYTES = 16_000_000
_LAYER = re.compile(r"encoder\.layers\.(\d+)\.")


@dataclass(frozen=True)
class Conversion:
    """What a converter hands over: open_clip weights, ``CLIP(**model_cfg)``, its preprocessing."""

    state_dict: dict[str, Any]
    model_cfg: dict[str, Any]
    preprocess: dict[str, Any]


def not_usable(source: Path, reason: str) -> WeightsUnavailableError:
    """The one message for a folder that is not a CLIP cliptagger can convert."""
    return WeightsUnavailableError(
        f"{source} cannot be used as a CLIP model: {reason}.\n"
        "  cliptagger reads a Hugging Face CLIPModel folder (config.json with model_type \"clip\", "
        "model.safetensors or pytorch_model.bin, and the tokenizer files vocab.json + merges.txt), "
        "an OpenAI .pt file saved by clip.load, or an open_clip checkpoint file with --model naming its "
        "architecture.",
        WeightsProblem.UNSUPPORTED, looked_in=str(source), detail=reason,
    )


def _json(path: Path, folder: Path) -> dict[str, Any]:
    try:
        data = read_json_file(path, _MAX_JSON_BYTES)
    except (OSError, UntrustedJSONError) as err:
        raise not_usable(folder, f"{path.name} cannot be read ({err})") from None
    if not isinstance(data, dict):
        raise not_usable(folder, f"{path.name} does not hold a JSON object")
    return data


def weight_files(folder: Path) -> list[Path]:
    """The folder's weight files, shards included, in a stable order."""
    for name in WEIGHT_NAMES:
        if (folder / name).is_file():
            return [folder / name]
        index = folder / (name + INDEX_SUFFIX)
        if index.is_file():
            weight_map = _json(index, folder).get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise not_usable(folder, f"{index.name} has no weight_map")
            shards = sorted({str(shard) for shard in weight_map.values()})
            for shard in shards:
                if Path(shard).name != shard or not (folder / shard).is_file():
                    raise not_usable(folder, f"the shard {shard!r} named in {index.name} is missing")
            return [folder / shard for shard in shards]
    raise not_usable(folder, "it has no model.safetensors or pytorch_model.bin")


def small_files(folder: Path) -> list[Path]:
    """Configuration and tokenizer files: they change the model too, and are cheap to hash."""
    return [folder / name for name in SMALL_FILES if (folder / name).is_file()]


def check_config(folder: Path) -> dict[str, Any]:
    """``config.json`` of a full CLIPModel, or the one clear reason why not."""
    if not (folder / CONFIG).is_file():
        raise not_usable(folder, "it has no config.json (a Hugging Face model folder has one)")
    config = _json(folder / CONFIG, folder)
    model_type = config.get("model_type")
    if model_type in ("clip_vision_model", "clip_text_model"):
        tower = "image" if model_type == "clip_vision_model" else "text"
        raise not_usable(folder, f"it holds only CLIP's {tower} tower (model_type {model_type!r}); "
                                 "tagging needs a full CLIPModel with both the image and the text tower")
    if isinstance(model_type, str) and model_type.startswith("siglip"):
        raise not_usable(folder, f"it is a SigLIP model (model_type {model_type!r}), not a CLIP; "
                                 "open_clip's own SigLIP models (e.g. ViT-B-16-SigLIP) can be chosen by name instead")
    if model_type != "clip":
        raise not_usable(folder, f"its config.json says model_type {model_type!r}, not 'clip'")
    return config


def _tower_config(config: dict[str, Any], name: str) -> dict[str, Any]:
    tower = config.get(f"{name}_config") or config.get(f"{name}_config_dict") or {}
    return tower if isinstance(tower, dict) else {}


def read_state_dict(folder: Path, files: list[Path]) -> dict[str, Any]:
    """All tensors of the weight files; ``.bin`` through ``torch.load(weights_only=True)``."""
    import torch
    from safetensors.torch import load_file

    state: dict[str, Any] = {}
    for path in files:
        try:
            if path.name.endswith(".safetensors"):
                part: Any = load_file(str(path))
            else:
                part = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as err:  # a damaged or foreign file: say which one
            raise not_usable(folder, f"{path.name} cannot be read ({' '.join(str(err).split())[:200]})") from None
        if not isinstance(part, dict) or not all(isinstance(v, torch.Tensor) for v in part.values()):
            raise not_usable(folder, f"{path.name} does not hold a plain dictionary of tensors")
        state.update(part)
    return state


def _layer_count(state: dict[str, Any], prefix: str) -> int:
    found = {int(m.group(1)) for key in state if key.startswith(prefix) and (m := _LAYER.match(key[len(prefix):]))}
    return max(found) + 1 if found else 0


def _blocks(state: dict[str, Any], source: str, target: str, layers: int) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {}
    for i in range(layers):
        old, new = f"{source}encoder.layers.{i}.", f"{target}transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            out[f"{new}attn.in_proj_{kind}"] = torch.cat(
                [state[f"{old}self_attn.{p}_proj.{kind}"] for p in ("q", "k", "v")], dim=0)
            out[f"{new}attn.out_proj.{kind}"] = state[f"{old}self_attn.out_proj.{kind}"]
            out[f"{new}ln_1.{kind}"] = state[f"{old}layer_norm1.{kind}"]
            out[f"{new}ln_2.{kind}"] = state[f"{old}layer_norm2.{kind}"]
            out[f"{new}mlp.c_fc.{kind}"] = state[f"{old}mlp.fc1.{kind}"]
            out[f"{new}mlp.c_proj.{kind}"] = state[f"{old}mlp.fc2.{kind}"]
    return out


def to_open_clip(state: dict[str, Any]) -> dict[str, Any]:
    """Rename (and concatenate, transpose) HF CLIPModel tensors into open_clip's names.

    ``KeyError`` names the first HF tensor that is missing.
    """
    text_layers, vision_layers = _layer_count(state, "text_model."), _layer_count(state, "vision_model.")
    out = {
        "token_embedding.weight": state["text_model.embeddings.token_embedding.weight"],
        "positional_embedding": state["text_model.embeddings.position_embedding.weight"],
        "ln_final.weight": state["text_model.final_layer_norm.weight"],
        "ln_final.bias": state["text_model.final_layer_norm.bias"],
        "text_projection": state["text_projection.weight"].t(),
        "logit_scale": state["logit_scale"],
        "visual.class_embedding": state["vision_model.embeddings.class_embedding"],
        "visual.conv1.weight": state["vision_model.embeddings.patch_embedding.weight"],
        "visual.positional_embedding": state["vision_model.embeddings.position_embedding.weight"],
        "visual.ln_pre.weight": state["vision_model.pre_layrnorm.weight"],
        "visual.ln_pre.bias": state["vision_model.pre_layrnorm.bias"],
        "visual.ln_post.weight": state["vision_model.post_layernorm.weight"],
        "visual.ln_post.bias": state["vision_model.post_layernorm.bias"],
        "visual.proj": state["visual_projection.weight"].t(),
    }
    out.update(_blocks(state, "text_model.", "", text_layers))
    out.update(_blocks(state, "vision_model.", "visual.", vision_layers))
    return {key: value.detach().contiguous() for key, value in out.items()}


def mlp_ratio(intermediate: int, width: int) -> float:
    """The ratio open_clip turns back into ``intermediate`` (it computes ``int(width * ratio)``).

    ``intermediate / width`` alone can come back one short in floating point (width 88,
    intermediate 120 gives 119), so it is nudged up by a quarter of a unit where needed.
    """
    ratio = intermediate / width
    return ratio if int(width * ratio) == intermediate else (intermediate + 0.25) / width


def model_config(folder: Path, config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """open_clip's CLIP config: sizes from the tensors themselves, the rest from config.json."""
    text, vision = _tower_config(config, "text"), _tower_config(config, "vision")
    acts = (text.get("hidden_act", "quick_gelu"), vision.get("hidden_act", "quick_gelu"))
    if acts[0] != acts[1] or acts[0] not in ACTIVATIONS:
        raise not_usable(folder, f"its activations are {acts[0]!r} (text) and {acts[1]!r} (image); open_clip's "
                                 "CLIP uses one of 'quick_gelu' or 'gelu' in both towers")
    for tower, name in ((text, "text"), (vision, "image")):
        eps = tower.get("layer_norm_eps", 1e-5)
        if not isinstance(eps, (int, float)) or not math.isclose(eps, 1e-5):
            raise not_usable(folder, f"its {name} tower uses layer_norm_eps {eps!r}; open_clip's CLIP uses 1e-5")
    if text.get("eos_token_id", 49407) not in (2, 49407):
        raise not_usable(folder, f"its text tower pools at token id {text.get('eos_token_id')!r}, "
                                 "not CLIP's end-of-text token (49407)")
    text_width = int(state["text_model.final_layer_norm.weight"].shape[0])
    vision_width = int(state["vision_model.embeddings.class_embedding"].shape[0])
    text_heads, vision_heads = text.get("num_attention_heads", 8), vision.get("num_attention_heads", 12)
    if (not isinstance(text_heads, int) or not isinstance(vision_heads, int) or text_heads < 1 or vision_heads < 1
            or text_width % text_heads or vision_width % vision_heads):
        raise not_usable(folder, f"num_attention_heads ({text_heads!r} text, {vision_heads!r} image) does not "
                                 f"divide the widths ({text_width}, {vision_width})")
    patch = state["vision_model.embeddings.patch_embedding.weight"]
    positions = int(state["vision_model.embeddings.position_embedding.weight"].shape[0])
    grid = math.isqrt(positions - 1)
    if grid * grid != positions - 1 or patch.shape[-1] != patch.shape[-2]:
        raise not_usable(folder, "its image tower is not square (open_clip's CLIP needs square patches and grids)")
    token_embedding = state["text_model.embeddings.token_embedding.weight"]
    return {
        "embed_dim": int(state["text_projection.weight"].shape[0]),
        "quick_gelu": acts[0] == "quick_gelu",
        "vision_cfg": {
            "image_size": int(patch.shape[-1]) * grid,
            "patch_size": int(patch.shape[-1]),
            "width": vision_width,
            "layers": _layer_count(state, "vision_model."),
            "head_width": vision_width // vision_heads,
            "mlp_ratio": mlp_ratio(int(state["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0]), vision_width),
        },
        "text_cfg": {
            "context_length": int(state["text_model.embeddings.position_embedding.weight"].shape[0]),
            "vocab_size": int(token_embedding.shape[0]),
            "width": text_width,
            "heads": text_heads,
            "layers": _layer_count(state, "text_model."),
            "mlp_ratio": mlp_ratio(int(state["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0]), text_width),
        },
    }


def standard_vocabulary() -> dict[str, int]:
    """CLIP's BPE vocabulary as Hugging Face spells it (open_clip names the two special tokens differently)."""
    from open_clip.tokenizer import SimpleTokenizer

    encoder = dict(SimpleTokenizer().encoder)
    encoder.pop("<start_of_text>")
    encoder.pop("<end_of_text>")
    return {**encoder, **SPECIAL_TOKENS}


def check_tokenizer(folder: Path, vocab_size: int) -> None:
    """The folder's vocabulary must be CLIP's standard one: open_clip's tokenizer is used for it."""
    vocab: Any = None
    if (folder / VOCAB).is_file():
        vocab, where = _json(folder / VOCAB, folder), VOCAB
    elif (folder / TOKENIZER_JSON).is_file():
        model = _json(folder / TOKENIZER_JSON, folder).get("model")
        vocab, where = (model.get("vocab") if isinstance(model, dict) else None), TOKENIZER_JSON
    if vocab is None:
        if vocab_size != STANDARD_VOCAB_SIZE:
            raise not_usable(folder, f"it has no tokenizer files (vocab.json + merges.txt) and its vocabulary of "
                                     f"{vocab_size} tokens is not CLIP's standard one")
        return  # no tokenizer files: the standard CLIP vocabulary, the only size that fits
    if vocab != standard_vocabulary():
        raise not_usable(folder, f"its tokenizer ({where}) is not CLIP's standard BPE vocabulary; cliptagger "
                                 "tokenizes with open_clip's CLIP tokenizer and cannot use another vocabulary")
    if vocab_size != STANDARD_VOCAB_SIZE:
        raise not_usable(folder, f"its text tower has {vocab_size} token embeddings but the tokenizer has "
                                 f"{STANDARD_VOCAB_SIZE}")


def _floats(value: Any, default: tuple[float, ...]) -> tuple[float, ...]:
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value):
        return tuple(float(v) for v in value)
    return default


def preprocess_config(folder: Path, image_size: int) -> dict[str, Any]:
    """open_clip preprocessing from ``preprocessor_config.json`` (CLIP's defaults where it says nothing).

    open_clip resizes the shortest edge to the model's image size and centre-crops it, which
    is what CLIPImageProcessor does whenever its ``size`` and ``crop_size`` are both that size.
    """
    settings = _json(folder / PREPROCESSOR, folder) if (folder / PREPROCESSOR).is_file() else {}
    resample = settings.get("resample", 3)
    if resample not in INTERPOLATIONS:
        raise not_usable(folder, f"{PREPROCESSOR} asks for resampling mode {resample!r}; open_clip supports "
                                 "bicubic (3) and bilinear (2)")
    return {
        "size": image_size,
        "mean": _floats(settings.get("image_mean"), OPENAI_MEAN),
        "std": _floats(settings.get("image_std"), OPENAI_STD),
        "interpolation": INTERPOLATIONS[resample],
        "resize_mode": "shortest",
    }


def convert_folder(folder: Path) -> Conversion:
    """The whole conversion; ``WeightsUnavailableError`` (UNSUPPORTED) with one reason when it cannot."""
    config = check_config(folder)
    state = read_state_dict(folder, weight_files(folder))
    try:
        converted = to_open_clip(state)
        model_cfg = model_config(folder, config, state)
    except KeyError as err:
        tower = "text" if "text" in str(err) else "image" if "vision" in str(err) or "visual" in str(err) else ""
        what = f" (its {tower} tower is incomplete)" if tower else ""
        raise not_usable(folder, f"the weights have no tensor {err.args[0]}{what}") from None
    expected = _consumed_keys(state)
    unknown = sorted(key for key in state if key not in expected and not key.endswith("position_ids"))
    if unknown:
        raise not_usable(folder, f"the weights hold tensors a standard CLIP does not ({', '.join(unknown[:3])}"
                                 f"{', ...' if len(unknown) > 3 else ''}): an unsupported variant")
    check_tokenizer(folder, model_cfg["text_cfg"]["vocab_size"])
    return Conversion(converted, model_cfg, preprocess_config(folder, model_cfg["vision_cfg"]["image_size"]))


def _consumed_keys(state: dict[str, Any]) -> set[str]:
    """The HF tensor names a standard CLIPModel of this depth has."""
    names = {
        "text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight",
        "text_model.final_layer_norm.weight", "text_model.final_layer_norm.bias", "text_projection.weight",
        "logit_scale", "vision_model.embeddings.class_embedding", "vision_model.embeddings.patch_embedding.weight",
        "vision_model.embeddings.position_embedding.weight", "vision_model.pre_layrnorm.weight",
        "vision_model.pre_layrnorm.bias", "vision_model.post_layernorm.weight", "vision_model.post_layernorm.bias",
        "visual_projection.weight",
    }
    for prefix in ("text_model.", "vision_model."):
        for i in range(_layer_count(state, prefix)):
            for part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                         "layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2"):
                names |= {f"{prefix}encoder.layers.{i}.{part}.weight", f"{prefix}encoder.layers.{i}.{part}.bias"}
    return names
