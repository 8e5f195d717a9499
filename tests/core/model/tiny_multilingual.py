"""A tiny multilingual CLIP built in the test: an XLM-R-style Hugging Face text tower and a
tokenizer trained here (``tokenizers``) on a few Korean and English sentences, saved where
cliptagger keeps the text files of hub models. Nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

SENTENCES = [
    "a photo of a dog.", "a photo of a cat.", "a photo of the beach.", "a photo of a mountain.",
    "a photo.", "a picture.", "an image.", "a photo of a car.",
    "강아지 사진.", "고양이 사진.", "바다 해변 사진.", "산 사진.", "자동차 사진.", "강아지", "고양이", "바다", "산",
    "사진의 강아지와 고양이.", "해변에서 노는 강아지.",
]
#: The hub names the tiny model's config asks for (never fetched: the folders are made here).
XLMR_REPO = "tiny-org/tiny-xlmr"
NLLB_REPO = "tiny-org/tiny-nllb"
XLMR_ARCH = "tiny-xlmr-siglip"
NLLB_ARCH = "tiny-nllb-clip"
NLLB_LANGUAGES = ["eng_Latn", "kor_Hang"]


def _trained_tokenizer(extra_special: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    special = ["<s>", "<pad>", "</s>", "<unk>", *extra_special]
    tokenizer.train_from_iterator(SENTENCES, trainers.BpeTrainer(vocab_size=300, special_tokens=special))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return tokenizer


def _text_folder(repo: str) -> Path:
    from cliptagger.core.model import text_files

    folder = text_files.local_folder(repo)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _mark_ready(folder: Path, repo: str) -> None:
    from cliptagger.core.model.text_files import COMPLETE_MARKER

    (folder / COMPLETE_MARKER).write_text(repo, encoding="utf-8")


def _model_config(folder: Path, arch: str, repo: str, extra: dict) -> Path:
    config = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"hf_model_name": repo, "hf_tokenizer_name": repo, "hf_proj_type": "linear",
                     "hf_pooler_type": "mean_pooler"},
        **extra,
    }
    path = folder / f"{arch}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def install_tiny_xlmr(config_folder: Path) -> str:
    """Text files under the cache and the open_clip config registered; returns the arch name.
    The model is SigLIP-family (it has a logit bias), like the catalog's multilingual SigLIP."""
    import open_clip
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig

    folder = _text_folder(XLMR_REPO)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=_trained_tokenizer([]), bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>")
    tokenizer.save_pretrained(str(folder))
    XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=90, pad_token_id=1, bos_token_id=0,
                     eos_token_id=2).save_pretrained(str(folder))
    _mark_ready(folder, XLMR_REPO)
    open_clip.add_model_config(_model_config(config_folder, XLMR_ARCH, XLMR_REPO,
                                             {"init_logit_bias": -10.0, "custom_text": True}))
    return XLMR_ARCH


def install_tiny_nllb(config_folder: Path) -> str:
    """An NLLB-style tokenizer (language codes as special tokens) beside an XLM-R-style tower."""
    import open_clip
    from transformers import NllbTokenizer, XLMRobertaConfig

    folder = _text_folder(NLLB_REPO)
    tokenizer = NllbTokenizer(tokenizer_object=_trained_tokenizer(NLLB_LANGUAGES), bos_token="<s>",
                              eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
                              extra_special_tokens=NLLB_LANGUAGES, src_lang="eng_Latn")
    tokenizer.save_pretrained(str(folder))
    XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=90, pad_token_id=1).save_pretrained(str(folder))
    _mark_ready(folder, NLLB_REPO)
    open_clip.add_model_config(_model_config(config_folder, NLLB_ARCH, NLLB_REPO, {}))
    return NLLB_ARCH
