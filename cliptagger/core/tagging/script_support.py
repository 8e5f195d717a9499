"""Does the model's tokenizer read the labels' script? If not, say so and name one that does.

English-only CLIP models use open_clip's ``SimpleTokenizer``: byte-level BPE learned on
English captions. It never fails: a Korean or Chinese label becomes fragments of UTF-8
bytes, the model embeds those fragments as noise, and the tags are quietly wrong. So the
tokenizer is measured on the label itself:

* byte-level BPE (no unknown token): tokens per character over the label's characters of
  that script. A tokenizer that knows a script encodes a word in fewer tokens than it has
  characters; more tokens than characters means characters were split into byte fragments
  (measured: CLIP's tokenizer gives 1.3-1.6 for Hangul words, 3.0 for common Han
  characters such as 犬, 0.25-0.35 for English words).
* Hugging Face tokenizers: unknown tokens (``unk_token_id``) or byte-fallback tokens
  (``<0xE3>``) among the label's tokens.

Pure Python apart from calling the tokenizer it is given; no torch import here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from cliptagger.core.model.catalog import CatalogEntry, multilingual_entries

#: Unicode name prefixes of the scripts checked, and how they are called in messages.
SCRIPTS: tuple[tuple[str, str], ...] = (
    ("HANGUL", "Korean (Hangul)"), ("HIRAGANA", "Japanese (kana)"), ("KATAKANA", "Japanese (kana)"),
    ("CJK", "Chinese/Japanese characters (Han)"), ("CYRILLIC", "Cyrillic"), ("GREEK", "Greek"),
    ("ARABIC", "Arabic"), ("HEBREW", "Hebrew"), ("THAI", "Thai"), ("DEVANAGARI", "Devanagari"),
)
#: More tokens than characters: characters were cut into byte fragments.
MAX_TOKENS_PER_CHARACTER = 1.0
_BYTE_FALLBACK = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")


@dataclass(frozen=True)
class ScriptProblem:
    script: str                  # e.g. "Korean (Hangul)"
    texts: tuple[str, ...]       # the labels / queries written in it
    tokens_per_character: float
    unknown_tokens: int


def script_of(character: str) -> Optional[str]:
    """The checked script a character belongs to (None: Latin, digits, punctuation...)."""
    if ord(character) < 0x370:
        return None
    name = unicodedata.name(character, "")
    for prefix, script in SCRIPTS:
        if name.startswith(prefix):
            return script
    return None


def _runs(text: str) -> list[tuple[str, str]]:
    """(script, run of consecutive characters of that script) in ``text``."""
    runs: list[tuple[str, str]] = []
    current, start = None, 0
    for index, character in enumerate(text + " "):
        script = script_of(character) if index < len(text) else None
        if script != current:
            if current is not None:
                runs.append((current, text[start:index]))
            current, start = script, index
    return runs


def _measure(tokenizer: Any, run: str) -> tuple[int, int]:
    """(tokens, unknown or byte-fallback tokens) for one run, without start/end markers."""
    inner = getattr(tokenizer, "tokenizer", None)  # open_clip's HFTokenizer wraps transformers'
    if inner is not None and callable(getattr(inner, "encode", None)):
        ids = list(inner.encode(run, add_special_tokens=False))
        unknown_id = getattr(inner, "unk_token_id", None)
        pieces = inner.convert_ids_to_tokens(ids) if hasattr(inner, "convert_ids_to_tokens") else []
        unknown = sum(1 for i in ids if unknown_id is not None and i == unknown_id)
        unknown += sum(1 for p in pieces if isinstance(p, str) and _BYTE_FALLBACK.match(p))
        content = [p for p in pieces if p not in ("▁", "Ġ")] if pieces else ids  # a lone word-start marker
        return len(content), unknown
    encode = getattr(tokenizer, "encode", None)  # open_clip's SimpleTokenizer: BPE ids, no markers
    if callable(encode):
        return len(encode(run)), 0
    return 0, 0


def script_problems(texts: Iterable[str], tokenizer: Any) -> list[ScriptProblem]:
    """The scripts among ``texts`` that ``tokenizer`` cannot represent well (see module docstring)."""
    tokens: dict[str, int] = {}
    characters: dict[str, int] = {}
    unknown: dict[str, int] = {}
    written: dict[str, list[str]] = {}
    for text in dict.fromkeys(texts):
        for script, run in _runs(text):
            count, bad = _measure(tokenizer, run)
            tokens[script] = tokens.get(script, 0) + count
            characters[script] = characters.get(script, 0) + len(run)
            unknown[script] = unknown.get(script, 0) + bad
            names = written.setdefault(script, [])
            if text not in names:
                names.append(text)
    problems = []
    for script, chars in characters.items():
        ratio = tokens[script] / chars
        if unknown[script] > 0 or ratio > MAX_TOKENS_PER_CHARACTER:
            problems.append(ScriptProblem(script, tuple(written[script]), round(ratio, 2), unknown[script]))
    return problems


def suggested_models(exclude_arch: str = "") -> list[CatalogEntry]:
    """Catalog models whose tokenizer reads many scripts (best multilingual retrieval first)."""
    return [e for e in multilingual_entries() if e.arch != exclude_arch]


def describe(problems: Sequence[ScriptProblem], model_name: str, exclude_arch: str = "") -> str:
    """One warning line (empty: no problem): what is unreadable and which model reads it."""
    if not problems:
        return ""
    parts = []
    for problem in problems:
        shown = ", ".join(f'"{t}"' for t in problem.texts[:3]) + (" ..." if len(problem.texts) > 3 else "")
        how = (f"{problem.unknown_tokens} unknown token(s)" if problem.unknown_tokens
               else f"{problem.tokens_per_character:.1f} tokens per character: split into byte fragments")
        parts.append(f"{problem.script} in {shown} ({how})")
    models = suggested_models(exclude_arch)
    advice = ""
    if models:
        names = " or ".join(e.key for e in models[:2])
        advice = f" Use a model that reads it: --model {names} (cliptagger models lists them)."
    return (f"The tokenizer of {model_name} cannot read " + "; ".join(parts)
            + ", so these labels would be tagged by noise." + advice)


def model_warning(texts: Iterable[str], model: Any) -> str:
    """``describe`` for a loaded ``ClipModel`` (an empty string when every script is readable)."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        return ""
    arch = str(getattr(model, "arch", ""))
    return describe(script_problems(texts, tokenizer), arch or "this model", arch)


def label_texts(label_sets: Iterable[Any]) -> list[str]:
    """The label names and the user's own prompts of these label sets (what gets tokenized)."""
    texts: list[str] = []
    for label_set in label_sets:
        for label in label_set.labels:
            texts.append(label.name)
            texts.extend(label.prompts)
    return texts
