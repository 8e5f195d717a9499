"""Checkpoints open_clip cannot read itself, converted once into its ``CLIP`` and cached.

Two kinds: a Hugging Face ``transformers`` CLIP folder (``hf_convert``) and an OpenAI
``.pt`` TorchScript archive (``openai_convert``). Both become an open_clip state dict plus
the ``CLIP(**model_cfg)`` config and preprocessing, stored in
``<cache>/converted/<key>/`` as ``model.safetensors`` and ``conversion.json``; every later
load builds open_clip's own ``CLIP`` from there, so the encoders, the fast text path and
the precision probe are the same as for any other model.

The cache key is a *quick* fingerprint: the source's resolved path, the size and
modification time (ns) of each weight file, and the SHA-256 of the small files (configs,
tokenizer). Hashing a 1.7 GB weight file on every start would cost seconds; a stat costs
nothing, and any rewrite of the weights changes their mtime. The *content* hash of the
weights is taken once, while converting, and becomes the model id (embedding cache
entries follow the content, not the path). A new fingerprint for the same source
replaces that source's old entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from cliptagger.core.errors import ModelLoadError
from cliptagger.core.model import hf_convert, openai_convert
from cliptagger.core.model.hf_convert import Conversion
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import atomic_write_text
from cliptagger.core.storage.strict_json import UntrustedJSONError, read_json_file

HF, OPENAI = "hf", "openai"
#: Bump when the conversion's output changes: old cache entries are then ignored.
CONVERSION_FORMAT = 1
META = "conversion.json"
WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class ConvertedCheckpoint:
    """A converted source in the cache, ready to build."""

    kind: str
    source: Path
    weights: Path
    model_cfg: dict[str, Any]
    preprocess: dict[str, Any]
    content_hash: str

    @property
    def arch(self) -> str:
        """What status bars and labels call it, e.g. ``hf:clip-vit-base-patch32``."""
        return f"{self.kind}:{self.source.name}"

    @property
    def model_id(self) -> str:
        return f"{self.kind}-clip@sha256:{self.content_hash}"

    @property
    def context_length(self) -> int:
        return int(self.model_cfg["text_cfg"]["context_length"])


def conversion_kind(path: Path) -> Optional[tuple[str, Path]]:
    """(kind, source) when ``path`` needs converting; None for files open_clip reads itself.

    A folder is a Hugging Face folder; so is ``config.json`` or ``model.safetensors`` picked
    inside one (file dialogs pick files). A TorchScript archive is an OpenAI ``.pt``.
    """
    if path.is_dir():
        return HF, path
    if path.is_file():
        if path.name in hf_convert.FOLDER_ENTRY_NAMES and (path.parent / hf_convert.CONFIG).is_file():
            return HF, path.parent
        if openai_convert.is_torchscript_archive(path):
            return OPENAI, path
    return None


def _source_files(kind: str, source: Path) -> tuple[list[Path], list[Path]]:
    """(weight files, small files) of the source: what the fingerprint covers."""
    if kind == HF:
        hf_convert.check_config(source)
        return hf_convert.weight_files(source), hf_convert.small_files(source)
    return [source], []


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(kind: str, source: Path, weights: Sequence[Path], small: Sequence[Path]) -> str:
    """The cache key: path, format, weight files' size+mtime, small files' content."""
    facts: dict[str, Any] = {"format": CONVERSION_FORMAT, "kind": kind, "source": str(source.resolve())}
    for path in weights:
        info = path.stat()
        facts[f"weights:{path.name}"] = [info.st_size, info.st_mtime_ns]
    for path in small:
        facts[f"file:{path.name}"] = _file_hash(path)
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:24]


def content_hash(weights: Sequence[Path], small: Sequence[Path]) -> str:
    """What the model is, wherever it lies: the bytes of all its files."""
    digest = hashlib.sha256()
    for path in [*weights, *small]:
        digest.update(path.name.encode() + b"\0" + _file_hash(path).encode())
    return digest.hexdigest()[:16]


def _read_entry(entry: Path, kind: str) -> Optional[ConvertedCheckpoint]:
    """A finished cache entry, or None if it is absent or not one we wrote (state files are untrusted)."""
    try:
        meta = read_json_file(entry / META, 1_000_000)
    except (OSError, UntrustedJSONError):
        return None
    if (not isinstance(meta, dict) or meta.get("format") != CONVERSION_FORMAT or meta.get("kind") != kind
            or not isinstance(meta.get("model_cfg"), dict) or not isinstance(meta.get("preprocess"), dict)
            or not isinstance(meta.get("content_hash"), str) or not isinstance(meta.get("source"), str)
            or not (entry / WEIGHTS).is_file()):
        return None
    return ConvertedCheckpoint(kind, Path(meta["source"]), entry / WEIGHTS, meta["model_cfg"], meta["preprocess"],
                               meta["content_hash"])


def _converter(kind: str) -> Callable[[Path], Conversion]:
    return hf_convert.convert_folder if kind == HF else openai_convert.convert_file


def _forget_older(folder: Path, source: Path, keep: str) -> None:
    """Remove this source's entries from before it changed (other sources' entries stay)."""
    for entry in folder.iterdir() if folder.is_dir() else ():
        if entry.name == keep or entry.name.startswith("."):
            continue
        try:
            meta = read_json_file(entry / META, 1_000_000)
        except (OSError, UntrustedJSONError):
            continue
        if isinstance(meta, dict) and meta.get("source") == str(source):
            shutil.rmtree(entry, ignore_errors=True)


def _remove_stale_builds(folder: Path, older_than_s: float = 3600.0) -> None:
    """Half-written entries (``.KEY-random``) of conversions that were killed."""
    now = time.time()
    for entry in folder.iterdir():
        try:
            if entry.name.startswith(".") and entry.is_dir() and now - entry.stat().st_mtime > older_than_s:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def load(kind: str, source: Path, device: str) -> tuple[ConvertedCheckpoint, Any, Callable[[Any], Any], Any]:
    """(checkpoint, model, preprocess, tokenizer); a cache entry that no longer builds is converted again."""
    checkpoint = prepare(kind, source)
    try:
        return (checkpoint, *build(checkpoint, device))
    except ModelLoadError:
        shutil.rmtree(checkpoint.weights.parent, ignore_errors=True)
        checkpoint = prepare(kind, source)
        return (checkpoint, *build(checkpoint, device))


def prepare(kind: str, source: Path) -> ConvertedCheckpoint:
    """The cached conversion of ``source``, converting it first when there is none for its fingerprint."""
    from safetensors.torch import save_file

    source = source.resolve()
    weights, small = _source_files(kind, source)
    key = fingerprint(kind, source, weights, small)
    folder = paths.converted_dir()
    found = _read_entry(folder / key, kind)
    if found is not None:
        return found
    conversion = _converter(kind)(source)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": CONVERSION_FORMAT, "kind": kind, "source": str(source), "model_cfg": conversion.model_cfg,
            "preprocess": conversion.preprocess, "content_hash": content_hash(weights, small)}
    _remove_stale_builds(folder)
    building = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder))
    try:
        save_file(conversion.state_dict, str(building / WEIGHTS))
        atomic_write_text(building / META, json.dumps(meta, indent=1))
        if _read_entry(folder / key, kind) is None:  # another process may have finished the same one
            shutil.rmtree(folder / key, ignore_errors=True)  # a damaged entry under the same key
            os.replace(building, folder / key)  # the whole entry appears at once
    except Exception as err:  # OSError, or safetensors' own error for a full disk: a message, not a traceback
        if _read_entry(folder / key, kind) is None:
            raise ModelLoadError(f"Could not store the converted weights of {source} in {folder}: "
                                 f"{' '.join(str(err).split())[:300]}") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)
    _forget_older(folder, source, key)
    found = _read_entry(folder / key, kind)
    if found is None:
        raise ModelLoadError(f"The converted weights of {source} could not be read back from {folder / key}.")
    return found


def build(checkpoint: ConvertedCheckpoint, device: str) -> tuple[Any, Callable[[Any], Any], Any]:
    """(open_clip CLIP model on ``device``, eval preprocessing, tokenizer) for a converted checkpoint."""
    from open_clip.model import CLIP, set_model_preprocess_cfg
    from open_clip.tokenizer import SimpleTokenizer
    from open_clip.transform import PreprocessCfg, image_transform_v2
    from safetensors.torch import load_file

    try:
        model = CLIP(**checkpoint.model_cfg)
        model.load_state_dict(load_file(str(checkpoint.weights)), strict=True)
        preprocess_cfg = PreprocessCfg(**checkpoint.preprocess)
    except Exception as err:
        raise ModelLoadError(
            f"The converted weights of {checkpoint.source} in {checkpoint.weights.parent} do not build a CLIP "
            f"({' '.join(str(err).split())[:300]}). Delete that folder to convert again.") from None
    set_model_preprocess_cfg(model, dict(checkpoint.preprocess))
    model.to(device).eval()
    return model, image_transform_v2(preprocess_cfg, is_train=False), SimpleTokenizer(
        context_length=checkpoint.context_length)
