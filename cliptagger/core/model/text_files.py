"""The Hugging Face text files some models need beside their weights, kept for offline use.

Multilingual models read text with a Hugging Face tokenizer (``hf_tokenizer_name`` in the
open_clip config) and some run a Hugging Face text tower (``hf_model_name``: its
``config.json`` is read when the model is built). open_clip fetches both from the hub at
every load; cliptagger downloads them once into ``<weights dir>/text/<org>--<repo>`` next
to the weights and points open_clip at that folder, so such a model loads with no network.

A folder counts only once its download finished (a marker file is written last), so an
interrupted download is fetched again rather than half-used.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from cliptagger.core.errors import WeightsProblem, WeightsUnavailableError
from cliptagger.core.storage import paths

#: Only the small files: configs, tokenizer tables and vocabularies (never the HF weights).
TEXT_FILE_PATTERNS = ("*.json", "*.model", "*.txt", "*.tiktoken")
COMPLETE_MARKER = ".cliptagger-complete"
#: Context length open_clip gives an HF tokenizer whose config names none.
DEFAULT_CONTEXT_LENGTH = 77

#: ISO 639-1 codes (and a few locale spellings) to NLLB's language codes, for ``--text-language``.
NLLB_CODES = {
    "ko": "kor_Hang", "ja": "jpn_Jpan", "zh": "zho_Hans", "zh_cn": "zho_Hans", "zh_tw": "zho_Hant",
    "en": "eng_Latn", "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn", "it": "ita_Latn",
    "pt": "por_Latn", "nl": "nld_Latn", "pl": "pol_Latn", "ru": "rus_Cyrl", "uk": "ukr_Cyrl",
    "ar": "arb_Arab", "he": "heb_Hebr", "hi": "hin_Deva", "th": "tha_Thai", "vi": "vie_Latn",
    "tr": "tur_Latn", "sv": "swe_Latn", "da": "dan_Latn", "fi": "fin_Latn", "el": "ell_Grek",
    "cs": "ces_Latn", "id": "ind_Latn",
}


def text_config(arch: str) -> dict[str, Any]:
    """open_clip's ``text_cfg`` of an architecture ({} when it has none)."""
    import open_clip

    config = open_clip.get_model_config(arch) or {}
    return dict(config.get("text_cfg") or {})


def hub_repos(arch: str) -> list[str]:
    """The Hugging Face repositories the architecture's text side is read from (maybe none)."""
    cfg = text_config(arch)
    names = [cfg.get("hf_tokenizer_name"), cfg.get("hf_model_name")]
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))


def local_folder(repo: str) -> Path:
    return paths.weights_dir() / "text" / repo.replace("/", "--")


def is_ready(repo: str) -> bool:
    return (local_folder(repo) / COMPLETE_MARKER).is_file()


def nllb_language(code: str) -> str:
    """``ko``, ``ko_KR.UTF-8`` or ``kor_Hang`` -> ``kor_Hang`` (NLLB's codes pass through)."""
    text = code.strip()
    if "_" in text and len(text.split("_")[0]) == 3:
        return text
    base = text.split(".")[0].replace("-", "_").lower()
    found = NLLB_CODES.get(base) or NLLB_CODES.get(base.split("_")[0])
    if not found:
        known = ", ".join(sorted(NLLB_CODES))
        raise WeightsUnavailableError(
            f"Unknown text language {code!r}: give an NLLB code such as kor_Hang or one of {known}.",
            WeightsProblem.UNKNOWN)
    return found


def prepare(arch: str, allow_download: bool = True) -> dict[str, Path]:
    """Local folders for every hub repository the architecture's text side needs.

    Downloads the missing ones once (small files only) when allowed; otherwise, or with no
    network, one clear ``WeightsUnavailableError`` naming what is missing and where it was
    looked for.
    """
    found: dict[str, Path] = {}
    for repo in hub_repos(arch):
        if not is_ready(repo):
            if not allow_download:
                raise _missing(arch, repo, "downloads are turned off", WeightsProblem.NOT_DOWNLOADED)
            download(arch, repo)
        found[repo] = local_folder(repo)
    return found


def download(arch: str, repo: str) -> Path:
    """Fetch the repository's small text files into a fresh folder, then move it in place."""
    from cliptagger.core.model.weights import NO_CONNECTION, _short_reason, _unreachable_reason

    reason = _unreachable_reason({"hf_hub": repo})
    if reason:
        raise _missing(arch, repo, reason, WeightsProblem.OFFLINE)
    target = local_folder(repo)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=repo, allow_patterns=list(TEXT_FILE_PATTERNS), local_dir=str(staging))
        shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's own bookkeeping
        (staging / COMPLETE_MARKER).write_text(repo + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except Exception as err:
        shutil.rmtree(staging, ignore_errors=True)
        short = _short_reason(err)
        problem = WeightsProblem.OFFLINE if short == NO_CONNECTION else WeightsProblem.DOWNLOAD_FAILED
        raise _missing(arch, repo, short, problem) from None
    return target


def _missing(arch: str, repo: str, reason: str, problem: WeightsProblem) -> WeightsUnavailableError:
    folder = local_folder(repo)
    fix = ("run again without --no-download" if problem is WeightsProblem.NOT_DOWNLOADED
           else "connect to the internet and run again")
    return WeightsUnavailableError(
        f"The tokenizer of model {arch} (a few MB from https://huggingface.co/{repo}) is not on this "
        f"computer and could not be downloaded: {reason}.\n"
        f"  Looked in: {folder}\n"
        f"  To fix: {fix} (it is downloaded once, beside the weights), or copy that folder from a "
        f"computer where cliptagger has used this model. The bundled offline model works anywhere: --model demo.",
        problem, model=arch, looked_in=str(folder), source=f"https://huggingface.co/{repo}", detail=reason)


def local_text_cfg(arch: str, folders: dict[str, Path]) -> Optional[dict[str, Any]]:
    """The architecture's ``text_cfg`` pointing at the local folders (None: nothing to point).

    ``hf_model_pretrained`` is off: the text tower's weights come with the model's own
    checkpoint (or stay random), never from the hub.
    """
    cfg = text_config(arch)
    changed = False
    for key in ("hf_tokenizer_name", "hf_model_name"):
        name = cfg.get(key)
        if isinstance(name, str) and name in folders:
            cfg[key] = str(folders[name])
            changed = True
    if "hf_model_name" in cfg:
        cfg["hf_model_pretrained"] = False
    return cfg if changed else None


def make_tokenizer(arch: str, folders: dict[str, Path], language: str = "") -> Any:
    """open_clip's tokenizer for the architecture, reading a Hugging Face tokenizer from disk."""
    import open_clip
    from open_clip.tokenizer import HFTokenizer

    cfg = text_config(arch)
    name = cfg.get("hf_tokenizer_name")
    if not isinstance(name, str) or not name:
        return open_clip.get_tokenizer(arch)
    kwargs = dict(cfg.get("tokenizer_kwargs") or {})
    if cfg.get("tokenizer_mode"):
        kwargs["tokenizer_mode"] = cfg["tokenizer_mode"]
    tokenizer = HFTokenizer(str(folders[name]), context_length=cfg.get("context_length", DEFAULT_CONTEXT_LENGTH),
                            **kwargs)
    if language:
        inner = tokenizer.tokenizer
        if not callable(getattr(inner, "set_src_lang_special_tokens", None)):
            raise WeightsUnavailableError(f"Model {arch} reads any language without being told; "
                                          "leave out --text-language.", WeightsProblem.UNKNOWN, model=arch)
        code = nllb_language(language)
        if code not in inner.get_vocab():
            raise WeightsUnavailableError(f"The tokenizer of {arch} has no language {code!r}.",
                                          WeightsProblem.UNKNOWN, model=arch)
        # transformers 5 re-applies ``src_lang`` at every call, so open_clip's set_language
        # (set_src_lang_special_tokens alone) no longer sticks: set both.
        if hasattr(inner, "src_lang"):
            inner.src_lang = code
        tokenizer.set_language(code)
    return tokenizer
