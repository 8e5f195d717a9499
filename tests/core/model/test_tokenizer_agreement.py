"""open_clip's tokenizer (what cliptagger uses for converted checkpoints) against Hugging Face's CLIPTokenizer.

A Hugging Face folder is tokenized with open_clip's ``SimpleTokenizer`` (its vocabulary is
checked to be CLIP's standard one; runtime never imports transformers). The two agree on
ordinary text in any script; where they differ, open_clip is the one that does what OpenAI's
original ``simple_tokenizer.py`` did when CLIP was trained (``ftfy.fix_text`` and
``html.unescape`` before lower-casing), while transformers' CLIPTokenizer (a ``tokenizers``
pipeline since transformers 5) only applies NFC, whitespace folding and lower-casing.
"""

from __future__ import annotations

import pytest

from tests.core.model.tiny_checkpoints import hf_tokenizer, write_tokenizer_files

pytest.importorskip("transformers")

AGREE = [
    "a photo of a cat",
    "한국어 사진",                       # Korean
    "고양이와 강아지",
    "東京タワーの夜景",                   # Japanese
    "café crème brûlée",                # accents (precomposed)
    "e\u0301cole",                      # accents (combining): both normalize to NFC
    "naïve Ångström Straße",
    "🐶 dog 🎉",                         # emoji
    "👨\u200d👩\u200d👧 family",          # emoji joined by ZWJ
    "UPPER Case MiXeD",
    "  many   spaces\tand\nnewlines ",
    "it's a dog's life, isn't it?",
    "word " * 100,                      # 77-token truncation: both keep the end-of-text token last
    "🐶" * 100,
]

#: text -> why the ids differ (open_clip = OpenAI's original tokenizer behaviour).
KNOWN_DIFFERENCES = {
    "ＦＵＬＬ ｗｉｄｔｈ": "full-width Latin: ftfy folds it to ASCII, transformers keeps the full-width bytes",
    "it’s “quoted”": "curly quotes: ftfy straightens them, transformers keeps them",
    "ﬁsh ligature": "ligatures: ftfy splits ﬁ into f+i, transformers keeps the ligature",
    "Tom &amp; Jerry": "HTML entities: open_clip unescapes &amp; to &, transformers tokenizes the entity",
    "<|endoftext|> inside": "transformers reads its own special-token spelling as end-of-text",
    "<end_of_text> inside": "open_clip reads its own special-token spelling as end-of-text",
}


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    from open_clip.tokenizer import SimpleTokenizer

    folder = tmp_path_factory.mktemp("tokenizer")
    write_tokenizer_files(folder)
    return SimpleTokenizer(context_length=77), hf_tokenizer(folder)


def both(tokenizers, text):
    ours, theirs = tokenizers
    open_clip_ids = ours([text])[0].tolist()
    hf_ids = theirs([text], padding="max_length", max_length=77, truncation=True)["input_ids"][0]
    end = hf_ids.index(49407)  # transformers pads with end-of-text, open_clip with 0: compare up to the end
    return open_clip_ids, hf_ids[: end + 1] + [0] * (76 - end)


@pytest.mark.parametrize("text", AGREE)
def test_the_tokenizers_agree_on_ordinary_text(tokenizers, text):
    open_clip_ids, hf_ids = both(tokenizers, text)
    assert open_clip_ids == hf_ids
    assert len(open_clip_ids) == 77 and 49407 in open_clip_ids


def test_truncation_keeps_the_end_of_text_token_last(tokenizers):
    open_clip_ids, hf_ids = both(tokenizers, "word " * 100)
    assert open_clip_ids == hf_ids and open_clip_ids[0] == 49406 and open_clip_ids[-1] == 49407


@pytest.mark.parametrize("text", sorted(KNOWN_DIFFERENCES))
def test_the_known_differences_are_still_the_only_ones(tokenizers, text):
    """If transformers starts to agree, this fails: move the text to AGREE and the docs follow."""
    open_clip_ids, hf_ids = both(tokenizers, text)
    assert open_clip_ids != hf_ids, KNOWN_DIFFERENCES[text]
