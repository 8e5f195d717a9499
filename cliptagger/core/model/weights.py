"""Finding model weights: the local cache, open_clip's own download, or a checkpoint file.

Downloads go through ``open_clip.pretrained.download_pretrained`` (Hugging Face hub or
URL, exactly as open_clip does it) into cliptagger's cache folder. Progress is reported by
watching that folder grow, which works whichever transport open_clip picks.
"""

from __future__ import annotations

import hashlib
import logging as child_logging
import multiprocessing
import os
import queue as queue_module
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from cliptagger.core.errors import WeightsProblem, WeightsUnavailableError
from cliptagger.core.model.catalog import DEMO_ARCH, entry_for_arch, find_entry
from cliptagger.core.storage import paths

#: progress(bytes_done, bytes_total_or_None)
DownloadProgress = Callable[[int, Optional[int]], None]

DEMO_CHECKPOINT_NAME = "cliptagger-demo.safetensors"


@dataclass(frozen=True)
class ModelRequest:
    """What the user asked for: an architecture plus a pretrained tag or a checkpoint file."""

    arch: str
    pretrained: str = ""
    checkpoint: Optional[Path] = None
    #: The labels' language, for text encoders that must be told (NLLB): ``ko`` or ``kor_Hang``.
    text_language: str = ""

    @property
    def label(self) -> str:
        if self.checkpoint:
            from cliptagger.core.model.converted import conversion_kind

            # a Hugging Face folder or an OpenAI .pt says what it is: --model plays no part
            return str(self.checkpoint) if conversion_kind(self.checkpoint) else f"{self.arch} from {self.checkpoint}"
        return f"{self.arch} ({self.pretrained})" if self.pretrained else self.arch


def demo_checkpoint() -> Path:
    return paths.resources_dir() / "models" / DEMO_CHECKPOINT_NAME


def request_for(model: str, pretrained: str = "", checkpoint: str | os.PathLike[str] | None = None,
                text_language: str = "") -> ModelRequest:
    """Turn CLI/GUI choices into a request: catalog keys, the demo, or any open_clip name."""
    entry = find_entry(model)
    if checkpoint:
        arch = entry.arch if entry else model
        return ModelRequest(arch=arch, checkpoint=Path(checkpoint).expanduser(), text_language=text_language)
    if entry and entry.arch == DEMO_ARCH:
        return ModelRequest(arch=DEMO_ARCH, checkpoint=demo_checkpoint())
    if entry:
        return ModelRequest(arch=entry.arch, pretrained=pretrained or entry.pretrained, text_language=text_language)
    return ModelRequest(arch=model, pretrained=pretrained, text_language=text_language)


def pretrained_config(arch: str, tag: str) -> dict[str, Any]:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise WeightsUnavailableError(
            f"open_clip has no pretrained weights called {tag!r} for {arch!r} (known tags: {known}).",
            WeightsProblem.UNKNOWN, model=arch,
        )
    return dict(cfg)


def _hf_candidates(filename: str) -> list[str]:
    """open_clip prefers a .safetensors twin of a .bin/.pth file; look for both, in its order."""
    stem, ext = os.path.splitext(filename)
    names = []
    if filename == "open_clip_pytorch_model.bin":
        names.append("open_clip_model.safetensors")
    elif ext in (".bin", ".pth"):
        names.append(stem + ".safetensors")
    names.append(filename)
    return names


def cached_weights(arch: str, tag: str) -> Optional[Path]:
    """The local file for (arch, tag) if it was downloaded before; never touches the network."""
    cfg = pretrained_config(arch, tag)
    cache = paths.weights_dir()
    if cfg.get("hf_hub"):
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            return None
        # open_clip's convention: "org/repo/file.bin", or "org/repo/" for its default file name
        repo_id, filename = os.path.split(cfg["hf_hub"])
        filename = filename or "open_clip_pytorch_model.bin"
        for name in _hf_candidates(filename):
            try:
                return Path(hf_hub_download(repo_id=repo_id, filename=name, cache_dir=str(cache), local_files_only=True))
            except Exception:
                continue
        return None
    if cfg.get("url"):
        target = cache / os.path.basename(cfg["url"])
        return target if target.is_file() else None
    return None


class DownloadCancelled(WeightsUnavailableError):
    """The user cancelled a download; the partial file was removed."""


def _download_in_child(cfg: dict[str, Any], cache: str, results: Any) -> None:
    """Child process: open_clip's own download code; the path or the error goes back."""

    import open_clip

    child_logging.getLogger("huggingface_hub").setLevel(child_logging.ERROR)
    try:
        results.put(("ok", open_clip.pretrained.download_pretrained(cfg, cache_dir=cache)))
    except BaseException as err:  # reported to the parent as text
        results.put(("error", f"{type(err).__name__}: {err}"))


def download_weights(
    arch: str,
    tag: str,
    progress: Optional[DownloadProgress] = None,
    cancel: Optional[threading.Event] = None,
) -> Path:
    """Download through open_clip's own code path; a clear error when it cannot.

    The download runs in a child process so that ``cancel`` really stops the transfer
    (huggingface_hub has no way to interrupt a file mid-way); progress is read from the
    cache folder growing.
    """

    cfg = pretrained_config(arch, tag)
    cache = paths.weights_dir()
    cache.mkdir(parents=True, exist_ok=True)
    entry = entry_for_arch(arch)
    total = entry.download_mb * 1_000_000 if entry and entry.pretrained == tag else None
    problem = _unreachable_reason(cfg)
    if problem:
        raise _missing(arch, tag, cfg, problem, WeightsProblem.OFFLINE)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_download_in_child, args=(cfg, str(cache), results), daemon=True)
    before = _folder_files(cache)
    start_bytes = _folder_bytes(cache)
    child.start()
    outcome = None
    try:
        while outcome is None:
            if cancel is not None and cancel.is_set():
                child.terminate()
                child.join(10)
                _remove_new_partials(cache, before)
                raise DownloadCancelled(f"The download of {arch} ({tag}) was cancelled.",
                                        WeightsProblem.CANCELLED, model=arch)
            try:
                outcome = results.get(timeout=0.25)
            except queue_module.Empty:
                if not child.is_alive() and results.empty():
                    outcome = ("error", f"the download process ended unexpectedly (exit code {child.exitcode})")
            if progress is not None and outcome is None:
                progress(max(0, _folder_bytes(cache) - start_bytes), total)
    finally:
        child.join(5)
    kind, value = outcome
    if kind != "ok" or not value or not Path(value).is_file():
        reason = _short_reason(RuntimeError(value)) if kind != "ok" else "the download produced no file"
        kind_of_problem = WeightsProblem.OFFLINE if reason == NO_CONNECTION else WeightsProblem.DOWNLOAD_FAILED
        raise _missing(arch, tag, cfg, reason, kind_of_problem)
    target = Path(value)
    if progress is not None:
        size = target.stat().st_size
        progress(size, size)
    return target


def _folder_files(folder: Path) -> set[str]:
    return {os.path.join(root, name) for root, _dirs, files in os.walk(folder) for name in files}


def _remove_new_partials(folder: Path, before: set[str]) -> None:
    """After a cancel, remove the files the stopped download had started."""
    for name in _folder_files(folder) - before:
        try:
            os.unlink(name)
        except OSError:
            pass


def resolve_weights(
    request: ModelRequest,
    allow_download: bool = True,
    progress: Optional[DownloadProgress] = None,
    cancel: Optional[threading.Event] = None,
) -> Path:
    """Return a local weights file for the request, downloading it once if allowed."""
    if request.checkpoint is not None:
        path = request.checkpoint
        if not path.is_file():
            hint = (
                "The demo model ships with cliptagger; reinstall or run `make demo-model` to rebuild it."
                if request.arch == DEMO_ARCH
                else "Check the path, or pick a model by name to download it."
            )
            raise WeightsUnavailableError(f"Checkpoint file not found: {path}. {hint}",
                                          WeightsProblem.FILE_MISSING, model=request.arch, looked_in=str(path))
        return path
    if not request.pretrained:
        raise WeightsUnavailableError(
            f"No weights were named for {request.arch!r}: give a pretrained tag (--pretrained) or a file (--checkpoint).",
            WeightsProblem.UNKNOWN, model=request.arch,
        )
    found = cached_weights(request.arch, request.pretrained)
    if found is not None:
        return found
    cfg = pretrained_config(request.arch, request.pretrained)
    if not allow_download:
        if _offline_mode(cfg):  # a download could not help: say so, not "downloads are turned off"
            raise _missing(request.arch, request.pretrained, cfg, OFFLINE_MODE, WeightsProblem.OFFLINE)
        raise _missing(request.arch, request.pretrained, cfg, "downloads are turned off",
                       WeightsProblem.NOT_DOWNLOADED)
    return download_weights(request.arch, request.pretrained, progress, cancel)


def file_fingerprint(path: Path) -> str:
    """A short content hash: checkpoints are identified by what they hold, not where they are."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _source_of(cfg: dict[str, Any]) -> str:
    if cfg.get("hf_hub"):
        repo = cfg["hf_hub"].rstrip("/")
        return f"https://huggingface.co/{repo.split('/')[0]}/{repo.split('/')[1]}"
    return str(cfg.get("url", ""))


def _missing(arch: str, tag: str, cfg: dict[str, Any], reason: str, problem: WeightsProblem) -> WeightsUnavailableError:
    entry = entry_for_arch(arch)
    return WeightsUnavailableError(
        _missing_message(arch, tag, cfg, reason, problem), problem, model=arch,
        size_mb=entry.download_mb if entry and entry.pretrained == tag else None,
        looked_in=str(paths.weights_dir()), source=_source_of(cfg), detail=reason,
    )


def _missing_message(arch: str, tag: str, cfg: dict[str, Any], reason: str, problem: WeightsProblem) -> str:
    entry = entry_for_arch(arch)
    size = f", about {entry.download_mb} MB" if entry and entry.pretrained == tag else ""
    if problem is WeightsProblem.NOT_DOWNLOADED:
        first_fix = "run again without --no-download (the download happens once)"
    elif reason == OFFLINE_MODE:
        first_fix = "unset HF_HUB_OFFLINE and run again (the download happens once)"
    else:
        first_fix = "connect to the internet and run again (the download happens once)"
    return (
        f"The weights for model {arch} ({tag}{size}) are not on this computer and could not be "
        f"downloaded: {reason}.\n"
        f"  Looked in: {paths.weights_dir()}\n"
        f"  To fix: {first_fix}, or download "
        f"the weights from {_source_of(cfg)} on another computer and use "
        f"--model {arch} --checkpoint FILE. The bundled offline model works anywhere: --model demo."
    )


NO_CONNECTION = "no connection to the model hub (offline?)"
OFFLINE_MODE = "offline mode is on (HF_HUB_OFFLINE)"


def _offline_mode(cfg: dict[str, Any]) -> bool:
    return bool(cfg.get("hf_hub")) and os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _short_reason(err: BaseException) -> str:
    text = " ".join(str(err).split())
    lowered = text.lower()
    if any(word in lowered for word in ("offline", "connect", "resolve", "network", "urlopen", "name or service", "timed out")):
        return NO_CONNECTION
    return text[:300] or type(err).__name__


def _download_host(cfg: dict[str, Any]) -> Optional[tuple[str, int]]:
    if cfg.get("hf_hub"):
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    else:
        endpoint = cfg.get("url", "")
    parsed = urllib.parse.urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None  # file:// and friends need no network
    return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)


def _unreachable_reason(cfg: dict[str, Any], timeout: float = 4.0) -> str:
    """Fail fast offline: the hub client would otherwise retry for most of a minute."""
    if _offline_mode(cfg):
        return OFFLINE_MODE
    host = _download_host(cfg)
    if host is None:
        return ""
    try:
        socket.create_connection(host, timeout=timeout).close()
    except OSError as err:
        return f"no connection to {host[0]} ({err.strerror or err})"
    return ""


def _folder_bytes(folder: Path) -> int:
    size = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return size
