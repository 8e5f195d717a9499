"""Loading a CLIP model and encoding images and texts with it.

``load_model`` is the only place that builds an open_clip model: device and weights are
chosen once, and the rest of cliptagger talks to the small ``ClipModel`` wrapper.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from cliptagger.core.errors import ModelLoadError, WeightsUnavailableError
from cliptagger.core.model import text_files
from cliptagger.core.model.catalog import DEMO_ARCH, entry_for_arch
from cliptagger.core.model.converted import conversion_kind
from cliptagger.core.model.converted import load as load_converted
from cliptagger.core.model.device import choose_device
from cliptagger.core.model.precision import (
    PrecisionChoice,
    cast_model,
    casts_weights,
    choose_precision,
    compute_context,
    torch_dtype,
)
from cliptagger.core.model.weights import (
    DownloadProgress,
    ModelRequest,
    file_fingerprint,
    pretrained_config,
    resolve_weights,
)
from cliptagger.core.storage import paths

_config_lock = threading.Lock()
_demo_registered = False


def register_demo_config() -> None:
    """Make the bundled demo architecture known to open_clip (idempotent)."""
    global _demo_registered
    with _config_lock:
        if _demo_registered:
            return
        import open_clip

        open_clip.add_model_config(paths.resources_dir() / "models" / f"{DEMO_ARCH}.json")
        _demo_registered = True


@dataclass
class ClipModel:
    """An open_clip model ready for inference, with the transforms and tokenizer that go with it."""

    model: Any
    preprocess: Callable[[Any], Any]
    tokenizer: Callable[[Sequence[str]], Any]
    model_id: str
    arch: str
    device: str
    #: "fp32", "bf16" or "fp16": what the encoders compute in (see core.precision). On CPU
    #: and MPS a reduced precision means the weights themselves are cast (``load_model``).
    precision: str = "fp32"
    #: How ``precision`` was chosen, with the probe's measured speeds (None: set by hand).
    precision_choice: Optional[PrecisionChoice] = None
    #: Called with the batch size each time images are encoded (tests count encoder calls).
    encode_listeners: list[Callable[[int], None]] = field(default_factory=list)

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.exp().item())

    @property
    def logit_bias(self) -> Optional[float]:
        """SigLIP-family models' learned bias: p(match) = sigmoid(scale * cos + bias).
        None for CLIP-family models, which were trained with a softmax and have none."""
        bias = getattr(self.model, "logit_bias", None)
        return float(bias.float().reshape(-1)[0].item()) if bias is not None else None

    @property
    def precision_info(self) -> str:
        """For status bars: e.g. ``bf16 (measured: bf16 68.2 img/s, fp32 17.4 img/s)``."""
        return self.precision_choice.describe() if self.precision_choice else self.precision

    @property
    def input_dtype(self) -> Any:
        """The dtype image batches are fed in: the weights' dtype where they were cast."""
        import torch


        return torch_dtype(self.precision) if casts_weights(self.device, self.precision) else torch.float32

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    def encode_pixels(self, batch: Any) -> Any:
        """L2-normalized float32 embeddings for a preprocessed (N, 3, H, W) batch."""
        import torch

        for listener in self.encode_listeners:
            listener(int(batch.shape[0]))
        with torch.inference_mode(), compute_context(self.device, self.precision):
            features = self.model.encode_image(batch.to(self.device, dtype=self.input_dtype))
            features = features.float()
            return torch.nn.functional.normalize(features, dim=-1).cpu()

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> Any:
        """L2-normalized float32 embeddings, one row per text (in the given order)."""
        import torch

        if not texts:
            return torch.empty(0)
        tokens = self.tokenizer(list(texts))
        # Similar lengths together, so that trimming the context saves the most.
        order = sorted(range(len(texts)), key=lambda i: int((tokens[i] != 0).sum()))
        rows: list[Any] = [None] * len(texts)
        with torch.inference_mode(), compute_context(self.device, self.precision):
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                features = self._encode_tokens(tokens[chosen].to(self.device)).float()
                for index, row in zip(chosen, torch.nn.functional.normalize(features, dim=-1).cpu()):
                    rows[index] = row
        return torch.stack(rows)

    def _encode_tokens(self, tokens: Any) -> Any:
        """``encode_text``, but with the context trimmed to the longest prompt in the batch.

        CLIP's text tower is causal and pools at the end-of-text token, so positions after
        it never influence the result: dropping the padding gives the same embedding at a
        fraction of the cost (77 -> ~12 tokens for typical prompts). Other text towers fall
        back to open_clip's own ``encode_text``.
        """
        import torch
        from open_clip.transformer import text_global_pool

        model = self.model
        pool_type = getattr(model, "text_pool_type", None)
        mask = getattr(model, "attn_mask", None)
        if pool_type != "argmax" or mask is None or not hasattr(model, "positional_embedding"):
            return model.encode_text(tokens)
        length = int(tokens.argmax(dim=-1).max()) + 1
        tokens = tokens[:, :length]
        cast_dtype = model.transformer.get_cast_dtype()
        x = model.token_embedding(tokens).to(cast_dtype)
        x = x + model.positional_embedding[:length].to(cast_dtype)
        x = model.transformer(x, attn_mask=mask[:length, :length])
        x = model.ln_final(x)
        x = text_global_pool(x, tokens, pool_type)
        projection = model.text_projection
        if projection is None:
            return x
        return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


def reparameterize(model: Any) -> None:
    """Fuse the train-time branches of re-parameterizable image towers (MobileCLIP's FastViT)
    into single convolutions, as Apple's model card asks before inference: same outputs,
    several times faster on a CPU (measured on a 2-core Xeon, random weights, batch 8:
    MobileCLIP-S1 1.4 -> 13.2 img/s, MobileCLIP2-S0 14.5 -> 26.3 img/s). Other models are
    left as they are."""
    visual = getattr(model, "visual", None)
    if visual is None or not any(hasattr(m, "reparameterize") for m in visual.modules()):
        return
    from timm.utils.model import reparameterize_model

    reparameterize_model(visual, inplace=True)


def _default_language(request: ModelRequest) -> str:
    """For text encoders that must be told the language (NLLB): the user's locale, else English."""
    entry = entry_for_arch(request.arch)
    if entry is None or not entry.needs_language:
        return ""
    import locale

    code = (locale.getlocale()[0] or os.environ.get("LANG", "") or "en").split(".")[0]
    try:
        return text_files.nllb_language(code)
    except WeightsUnavailableError:
        return "eng_Latn"


def model_id_for(request: ModelRequest, weights: Optional[Path]) -> str:
    """A stable identifier for caches: name + tag, or name + checkpoint content hash. (Not the
    text language: it changes prompt embeddings, which live with the loaded model, not images.)"""
    if request.checkpoint is not None and weights is not None:
        return f"{request.arch}@sha256:{file_fingerprint(weights)}"
    return f"{request.arch}@{request.pretrained or 'random'}"


def load_model(
    request: ModelRequest,
    device: str | None = "auto",
    allow_download: bool = True,
    download_progress: Optional[DownloadProgress] = None,
    random_weights: bool = False,
    precision: str = "auto",
    cancel_download: Optional[threading.Event] = None,
) -> ClipModel:
    """Build the model on the chosen device; ``random_weights`` is for tests and benchmarks."""
    import open_clip

    if request.checkpoint is not None and not random_weights:
        source = conversion_kind(request.checkpoint)
        if source is not None:  # a Hugging Face folder or an OpenAI .pt: converted once, then cached
            return _load_converted(*source, choose_device(device), precision)
    if request.arch == DEMO_ARCH:
        register_demo_config()
    if request.arch not in open_clip.list_models():
        raise ModelLoadError(
            f"Unknown model architecture {request.arch!r}. Try --model demo or one of: "
            + ", ".join(open_clip.list_models()[:12])
            + ", ..."
        )
    device = choose_device(device)
    weights: Optional[Path] = None
    build_args: dict[str, Any] = {}
    if not random_weights:
        weights = resolve_weights(request, allow_download=allow_download, progress=download_progress,
                                  cancel=cancel_download)
    # Hugging Face tokenizer/config files from cliptagger's cache (downloaded once), never the hub.
    text_folders = text_files.prepare(request.arch, allow_download) if request.arch != DEMO_ARCH else {}
    text_cfg = text_files.local_text_cfg(request.arch, text_folders)
    if text_cfg is not None:
        build_args["text_cfg"] = text_cfg
    if request.pretrained and request.checkpoint is None:
        # Build from the local file but with the preprocessing the tag was trained with,
        # exactly what open_clip applies when given the tag itself.
        cfg = pretrained_config(request.arch, request.pretrained)
        build_args |= {
            "image_mean": cfg.get("mean"),
            "image_std": cfg.get("std"),
            "image_interpolation": cfg.get("interpolation"),
            "image_resize_mode": cfg.get("resize_mode"),
            "force_quick_gelu": bool(cfg.get("quick_gelu", False)),
        }
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            request.arch,
            pretrained=str(weights) if weights else None,
            device=device,
            **build_args,
        )
    except WeightsUnavailableError:
        raise
    except Exception as err:
        where = f" from {weights}" if weights and request.checkpoint is None else ""
        raise ModelLoadError(
            f"Could not load model {request.label}{where}: {' '.join(str(err).split())[:400]}. "
            "If this is a checkpoint file, check that --model names its architecture."
        ) from None
    model.eval()
    reparameterize(model)
    try:
        tokenizer = text_files.make_tokenizer(request.arch, text_folders,
                                              request.text_language or _default_language(request))
    except (WeightsUnavailableError, ModelLoadError):
        raise
    except Exception as err:  # damaged tokenizer files in the cache, a missing library...
        raise ModelLoadError(f"Could not read the tokenizer of {request.label}: {' '.join(str(err).split())[:300]}. "
                             f"Delete {paths.weights_dir() / 'text'} to download it again.") from None
    model_id = model_id_for(request, weights) if not random_weights else f"{request.arch}@random-{uuid.uuid4().hex[:8]}"
    clip = ClipModel(model=model, preprocess=preprocess, tokenizer=tokenizer, model_id=model_id,
                     arch=request.arch, device=device)
    # Speed depends on the architecture, not the values: random models share one probe.
    return _choose_precision(clip, f"{request.arch}@random" if random_weights else model_id, precision)


def _load_converted(kind: str, source: Path, device: str, precision: str) -> ClipModel:
    checkpoint, model, preprocess, tokenizer = load_converted(kind, source, device)
    clip = ClipModel(model=model, preprocess=preprocess, tokenizer=tokenizer, model_id=checkpoint.model_id,
                     arch=checkpoint.arch, device=device)
    return _choose_precision(clip, checkpoint.model_id, precision)


def _choose_precision(clip: ClipModel, probe_id: str, precision: str) -> ClipModel:
    """Measure (or recall) the fastest precision that keeps the results, and cast to it."""
    choice = choose_precision(clip.device, precision, probe_id, clip.model.visual, clip.image_size)
    cast_model(clip.model, clip.device, choice.precision)
    clip.precision, clip.precision_choice = choice.precision, choice
    return clip
