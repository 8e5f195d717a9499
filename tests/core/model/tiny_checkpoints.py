"""Tiny CLIP checkpoints in the formats users bring: a Hugging Face folder, an OpenAI ``.pt``.

Everything is built here, offline: transformers' ``CLIPModel`` with random weights saved by
``save_pretrained``, tokenizer files in Hugging Face's format made from open_clip's copy of
CLIP's BPE merges (the same vocabulary as ``openai/clip-vit-base-patch32``'s vocab.json:
byte symbols, byte symbols + ``</w>``, one entry per merge, then the two special tokens),
and a TorchScript archive holding an open_clip model under OpenAI's tensor names.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import torch

MEAN = [0.5, 0.4, 0.3]
STD = [0.2, 0.25, 0.3]


def write_tokenizer_files(folder: Path) -> None:
    """vocab.json + merges.txt for CLIP's standard BPE vocabulary, as Hugging Face stores them."""
    from open_clip.tokenizer import SimpleTokenizer, bytes_to_unicode, default_bpe

    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(line.split()) for line in lines]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == len(SimpleTokenizer().encoder) == 49408
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n", encoding="utf-8")


def hf_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)


def save_tiny_hf_clip(folder: Path, hidden_act: str = "quick_gelu", seed: int = 0, with_tokenizer: bool = True):
    """A random transformers CLIPModel (hidden 32, 2 layers, 2 heads, image 32, patch 8, projection 16)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(seed)
    common = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 2,
              "hidden_act": hidden_act, "projection_dim": 16}
    config = CLIPConfig(text_config={**common, "vocab_size": 49408, "max_position_embeddings": 77},
                        vision_config={**common, "image_size": 32, "patch_size": 8}, projection_dim=16)
    model = CLIPModel(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():  # every tensor matters: a wrong mapping shows
            parameter.normal_(0.0, 0.2)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                       image_mean=MEAN, image_std=STD).save_pretrained(str(folder))
    if with_tokenizer:
        write_tokenizer_files(folder)
    return model


def openai_state_dict(model) -> dict[str, torch.Tensor]:
    """An open_clip CLIP's tensors as OpenAI's archives hold them (same names, plus three scalars)."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items() if k != "attn_mask"}
    size = model.visual.image_size
    state["input_resolution"] = torch.tensor(size[0] if isinstance(size, (tuple, list)) else size)
    state["context_length"] = torch.tensor(model.context_length)
    state["vocab_size"] = torch.tensor(model.vocab_size)
    return state


class _Holder(torch.nn.Module):
    """A module whose state dict is exactly the given tensors (names with dots kept as submodules)."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for name, tensor in state.items():
            owner: torch.nn.Module = self
            *path, leaf = name.split(".")
            for part in path:
                if not hasattr(owner, part):
                    owner.add_module(part, torch.nn.Module())
                owner = getattr(owner, part)
            owner.register_buffer(leaf, tensor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def save_tiny_openai_pt(path: Path, seed: int = 0, half: bool = True, resnet: bool = False):
    """A TorchScript archive like OpenAI's (fp16 weights by default) and the open_clip model it came from."""
    from open_clip.model import CLIP

    torch.manual_seed(seed)
    vision = ({"image_size": 64, "layers": [1, 1, 1, 1], "width": 8} if resnet else
              {"image_size": 32, "patch_size": 8, "width": 64, "layers": 2})
    model = CLIP(16, vision_cfg=vision,
                 text_cfg={"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 2},
                 quick_gelu=True).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.2)
    state = openai_state_dict(model)
    if half:  # OpenAI's archives are (partly) fp16; the reference gets the same rounding
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        model.load_state_dict({k: v.float() for k, v in state.items() if k in model.state_dict()}, strict=False)
    torch.jit.save(torch.jit.script(_Holder(state)), str(path))
    return model
