"""Label sets: what the user wants to tag, and the prompts that describe each label.

File format (JSON, UTF-8), documented in ``docs/label-sets.md``::

    {
      "format": "cliptagger-labels",
      "version": 1,
      "label_sets": [
        {
          "name": "Scene",
          "mode": "exclusive",            # or "independent"
          "threshold": 0.3,               # propose a label whose probability >= threshold
          "max_tags": 1,                  # at most this many proposals from the set
          "templates": "photo",           # a named template list, or a list of strings with {}
          "labels": [
            "beach",                                      # shorthand: just a name
            {"name": "dog", "parent": "Animals"},         # keyword Animals|dog
            {"name": "night", "prompts": ["a photo taken at night."]}
          ]
        }
      ]
    }

A file holding a single set object (with ``name`` and ``labels``) is accepted too.
Pure Python: no torch, no Qt, so the GUI editor can use it before a model is loaded.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from cliptagger.core.errors import LabelSetError
from cliptagger.core.model.catalog import DEMO_KEY
from cliptagger.core.storage.fileio import atomic_write_text, read_bounded
from cliptagger.core.storage.paths import resources_dir
from cliptagger.core.storage.strict_json import UntrustedJSONError, loads_untrusted
from cliptagger.core.storage.text_rules import LEVEL_SEPARATOR, characters_problem, keyword_problem, shown
from cliptagger.core.tagging.templates import TEMPLATE_SETS, resolve_templates

FORMAT_NAME = "cliptagger-labels"
FORMAT_VERSION = 1
HIERARCHY_SEPARATOR = LEVEL_SEPARATOR
#: A label file larger than this is not a label file (thousands of labels fit in a megabyte).
MAX_LABEL_FILE_BYTES = 16 * 1024 * 1024

#: Sentences that describe "a photo" with no particular content. Independent label sets
#: compare each label against this neutral caption (see ``cliptagger.core.tagging.scoring``).
DEFAULT_BASELINE_PROMPTS: tuple[str, ...] = ("a photo.", "a picture.", "an image.")


class Mode(str, Enum):
    EXCLUSIVE = "exclusive"      # exactly one label applies: softmax over the set
    INDEPENDENT = "independent"  # any number apply: one probability per label


@dataclass(frozen=True)
class Label:
    name: str
    parent: str = ""
    #: Prompts for this label alone, replacing the set's templates. ``{}`` is the name.
    prompts: tuple[str, ...] = ()
    #: The user's own threshold for this label, over the calibrated one and the set's (None: none).
    threshold: Optional[float] = None
    #: Other names for the same thing (a keyword list's ``{synonym}`` lines): each is put into the
    #: label's templates (or prompts) too, so its prompts join the label's ensemble. Never written.
    synonyms: tuple[str, ...] = ()

    @property
    def keyword(self) -> str:
        """The hierarchical keyword, e.g. ``Animals|dog`` (or just ``dog``)."""
        return f"{self.parent}{HIERARCHY_SEPARATOR}{self.name}" if self.parent else self.name


@dataclass(frozen=True)
class LabelSet:
    name: str
    labels: tuple[Label, ...]
    mode: Mode = Mode.EXCLUSIVE
    threshold: float = 0.3
    max_tags: int = 1
    #: Either the name of a built-in template list or the templates themselves.
    templates: str | tuple[str, ...] = "photo"
    baseline_prompts: tuple[str, ...] = DEFAULT_BASELINE_PROMPTS

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def template_list(self) -> tuple[str, ...]:
        return resolve_templates(self.templates)

    def prompts_for(self, label: Label) -> tuple[str, ...]:
        """The expanded prompts whose embeddings are averaged into the label's prototype: the
        templates (or the label's own prompts) filled with its name, then with each synonym."""
        source = label.prompts or self.template_list
        names = (label.name, *label.synonyms)
        return tuple(dict.fromkeys(_fill(template, name) for name in names for template in source))

    def with_changes(self, **changes: Any) -> "LabelSet":
        return replace(self, **changes)


def _fill(template: str, name: str) -> str:
    return template.replace("{}", name) if "{}" in template else template


def _validate(label_set: LabelSet) -> None:
    where = f"label set {label_set.name!r}"
    if not label_set.name.strip():
        raise LabelSetError("A label set needs a non-empty name.")
    if not label_set.labels:
        raise LabelSetError(f"The {where} has no labels.")
    _check_characters(label_set.name, "The name of a label set")
    seen: set[str] = set()
    for label in label_set.labels:
        if not label.name.strip():
            raise LabelSetError(f"The {where} has a label with an empty name.")
        problem = keyword_problem(label.keyword)
        if problem:
            raise LabelSetError(f'In the {where}, the label "{shown(label.keyword)}" cannot be used: {problem}.')
        for prompt in label.prompts:
            _check_characters(prompt, f"In the {where}, a prompt of {label.keyword!r}")
        for synonym in label.synonyms:
            if not synonym.strip():
                raise LabelSetError(f"In the {where}, {label.keyword!r} has an empty synonym.")
            _check_characters(synonym, f"In the {where}, a synonym of {label.keyword!r}")
        key = label.keyword.casefold()
        if key in seen:
            raise LabelSetError(f"The {where} lists {label.keyword!r} twice.")
        seen.add(key)
        if label.threshold is not None and not 0.0 <= label.threshold <= 1.0:
            raise LabelSetError(f"The {where} gives {label.keyword!r} threshold {label.threshold}; use 0 to 1.")
    if label_set.mode is Mode.EXCLUSIVE and len(label_set.labels) < 2:
        raise LabelSetError(f"The {where} is exclusive (pick one) but has fewer than two labels.")
    if not 0.0 <= label_set.threshold <= 1.0:
        raise LabelSetError(f"The {where} has threshold {label_set.threshold}; use 0 to 1.")
    if label_set.max_tags < 1:
        raise LabelSetError(f"The {where} has max_tags {label_set.max_tags}; use 1 or more.")
    try:
        templates = label_set.template_list
    except KeyError:
        known = ", ".join(sorted(TEMPLATE_SETS))
        raise LabelSetError(
            f"The {where} names templates {label_set.templates!r}; known lists: {known}."
        ) from None
    if not templates:
        raise LabelSetError(f"The {where} has no prompt templates.")
    for template in templates:
        if "{}" not in template:
            # Without the label's name every label gets the same prompt: every score 1/n.
            raise LabelSetError(
                f"The {where} has the template {template!r} without {{}} (where the label's name goes)."
            )
    if not label_set.baseline_prompts:
        raise LabelSetError(f"The {where} has an empty baseline prompt list.")
    for prompt in (*templates, *label_set.baseline_prompts):
        _check_characters(prompt, f"In the {where}, the prompt")


def _check_characters(text: str, what: str) -> None:
    problem = characters_problem(text)
    if problem:
        raise LabelSetError(f'{what} "{shown(text)}" cannot be used: {problem}.')


def check_prompt_lengths(label_sets: Iterable[LabelSet], count_tokens: Callable[[str], int],
                         context_length: int) -> None:
    """Refuse prompts longer than the text encoder's context (CLIP: 77 tokens).

    The tokenizer would cut them silently, and two labels differing only after the cut
    would then score the same. ``count_tokens`` counts a prompt's tokens with the start
    and end markers (the model's tokenizer; this module stays free of torch).
    """
    for label_set in label_sets:
        for label in label_set.labels:
            for prompt in label_set.prompts_for(label):
                tokens = count_tokens(prompt)
                if tokens > context_length:
                    raise LabelSetError(
                        f"In label set {label_set.name!r}, the prompt for {label.keyword!r} is {tokens} tokens "
                        f"long; the model reads at most {context_length} (with its start and end markers), "
                        f"so the rest would be cut off silently. Shorten the label or its prompt: {prompt[:80]!r}..."
                    )
        for prompt in label_set.baseline_prompts:
            if count_tokens(prompt) > context_length:
                raise LabelSetError(f"In label set {label_set.name!r}, a baseline prompt is longer than the "
                                    f"model's {context_length} tokens: {prompt[:80]!r}...")


# ----------------------------------------------------------------------------- JSON


def _text(value: Any, what: str) -> str:
    """A JSON string field; null, numbers, lists... are an error, never the text "None"."""
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise LabelSetError(f"{what} must be text, not {kind}.")
    return value


def _number(value: Any, what: str) -> float:
    """A JSON number field (not text, not true/false), finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LabelSetError(f"{what} must be a number, not {value!r}.")
    return float(value)


def _whole_number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LabelSetError(f"{what} must be a whole number, not {value!r}.")
    return value


def _texts(value: Any, what: str) -> tuple[str, ...]:
    """A JSON list of strings; a bare string is an error (it would become one prompt per letter)."""
    if not isinstance(value, (list, tuple)):
        raise LabelSetError(f"{what} must be a list of texts, not {type(value).__name__}.")
    return tuple(_text(item, f"each of {what}") for item in value)


def label_set_from_dict(data: Any) -> LabelSet:
    if not isinstance(data, dict):
        raise LabelSetError("A label set must be a JSON object.")
    try:
        raw_labels = data["labels"]
        name = _text(data["name"], "A label set's 'name'")
    except KeyError as missing:
        raise LabelSetError(f"A label set is missing the {missing.args[0]!r} field.") from None
    if not isinstance(raw_labels, list):
        raise LabelSetError(f"Label set {name!r}: 'labels' must be a list.")
    labels = tuple(_label_from_json(item, name) for item in raw_labels)
    try:
        mode = Mode(data.get("mode", Mode.EXCLUSIVE.value))
    except ValueError:
        raise LabelSetError(
            f"Label set {name!r}: mode must be 'exclusive' or 'independent', not {data.get('mode')!r}."
        ) from None
    templates = data.get("templates", "photo")
    if isinstance(templates, list):
        templates = tuple(_text(t, f"Label set {name!r}: each template") for t in templates)
    elif not isinstance(templates, str):
        raise LabelSetError(f"Label set {name!r}: 'templates' must be a name or a list of strings.")
    default_threshold = 0.3 if mode is Mode.EXCLUSIVE else 0.5
    default_max = 1 if mode is Mode.EXCLUSIVE else len(labels) or 1
    return LabelSet(
        name=name,
        labels=labels,
        mode=mode,
        threshold=_number(data.get("threshold", default_threshold), f"Label set {name!r}: 'threshold'"),
        max_tags=_whole_number(data.get("max_tags", default_max), f"Label set {name!r}: 'max_tags'"),
        templates=templates,
        baseline_prompts=_texts(data.get("baseline_prompts", DEFAULT_BASELINE_PROMPTS),
                                f"Label set {name!r}: 'baseline_prompts'"),
    )


def _label_from_json(item: Any, set_name: str) -> Label:
    if isinstance(item, str):
        return Label(name=item.strip())
    if isinstance(item, dict) and "name" in item:
        name = _text(item["name"], f"Label set {set_name!r}: a label's 'name'")
        prompts = _texts(item.get("prompts", ()), f"Label set {set_name!r}: 'prompts' of {name!r}")
        synonyms = _texts(item.get("synonyms", ()), f"Label set {set_name!r}: 'synonyms' of {name!r}")
        threshold = item.get("threshold")
        if threshold is not None:
            threshold = _number(threshold, f"Label set {set_name!r}: the 'threshold' of {name!r}")
        return Label(
            name=name.strip(),
            parent=_text(item.get("parent", ""), f"Label set {set_name!r}: the 'parent' of {name!r}")
            .strip(HIERARCHY_SEPARATOR + " "),
            prompts=prompts,
            threshold=threshold,
            synonyms=tuple(synonym.strip() for synonym in synonyms),
        )
    raise LabelSetError(f"Label set {set_name!r}: each label is a name or an object with a 'name'.")


def label_set_to_dict(label_set: LabelSet) -> dict[str, Any]:
    labels: list[Any] = []
    for label in label_set.labels:
        if not label.parent and not label.prompts and label.threshold is None and not label.synonyms:
            labels.append(label.name)
            continue
        entry: dict[str, Any] = {"name": label.name}
        if label.parent:
            entry["parent"] = label.parent
        if label.prompts:
            entry["prompts"] = list(label.prompts)
        if label.threshold is not None:
            entry["threshold"] = label.threshold
        if label.synonyms:
            entry["synonyms"] = list(label.synonyms)
        labels.append(entry)
    data: dict[str, Any] = {
        "name": label_set.name,
        "mode": label_set.mode.value,
        "threshold": label_set.threshold,
        "max_tags": label_set.max_tags,
        "templates": label_set.templates if isinstance(label_set.templates, str) else list(label_set.templates),
        "labels": labels,
    }
    if tuple(label_set.baseline_prompts) != DEFAULT_BASELINE_PROMPTS:
        data["baseline_prompts"] = list(label_set.baseline_prompts)
    return data


def parse_label_sets(text: str, source: str = "label file") -> list[LabelSet]:
    try:
        data = loads_untrusted(text)
    except UntrustedJSONError as err:
        raise LabelSetError(f"{source} cannot be read as a label file: {err}.") from None
    if isinstance(data, dict) and "label_sets" in data:
        if data.get("format", FORMAT_NAME) != FORMAT_NAME:
            raise LabelSetError(f"{source} is not a cliptagger label file (format {data.get('format')!r}).")
        version = data.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise LabelSetError(
                f"{source} uses label format version {version}; this cliptagger reads up to {FORMAT_VERSION}."
            )
        sets = data["label_sets"]
        if not isinstance(sets, list):
            raise LabelSetError(f"{source}: 'label_sets' must be a list.")
    elif isinstance(data, list):
        sets = data
    else:
        sets = [data]
    if not sets:
        raise LabelSetError(f"{source} holds no label sets; there would be nothing to tag.")
    result = [label_set_from_dict(item) for item in sets]
    names = [s.name.casefold() for s in result]
    if len(set(names)) != len(names):
        raise LabelSetError(f"{source} holds two label sets with the same name.")
    return result


def default_label_file(model_key: str) -> Path:
    """The bundled label sets a model starts with: the demo model's own, else the photo basics."""
    name = "demo.json" if model_key.casefold() == DEMO_KEY else "photo-basics.json"
    return resources_dir() / "labels" / name


def load_label_sets(path: str | Path) -> list[LabelSet]:
    path = Path(path)
    try:
        text = read_bounded(path, MAX_LABEL_FILE_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise LabelSetError(f"Label file not found: {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise LabelSetError(f"Cannot read label file {path}: {err}") from None
    return parse_label_sets(text, source=str(path))


def dump_label_sets(label_sets: Iterable[LabelSet],
                    learned: Optional[Mapping[str, Mapping[str, Any]]] = None) -> str:
    """The label file. ``learned``: per set name, ``{model id: learned head}`` blocks (see
    ``cliptagger.core.learning.head_store.heads_for_export``), written as the set's optional ``learned``
    field so that learned heads travel with an export; readers that do not know the field
    ignore it."""
    sets = []
    for label_set in label_sets:
        data = label_set_to_dict(label_set)
        blocks = (learned or {}).get(label_set.name)
        if blocks:
            data["learned"] = {str(model_id): block for model_id, block in blocks.items()}
        sets.append(data)
    document = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "label_sets": sets}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def save_label_sets(path: str | Path, label_sets: Sequence[LabelSet],
                    learned: Optional[Mapping[str, Mapping[str, Any]]] = None) -> None:
    atomic_write_text(Path(path), dump_label_sets(label_sets, learned))


def load_learned_blocks(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``learned`` blocks of a label file: ``{set name: {model id: head}}`` (empty when it
    has none). The file is expected to have been read with ``load_label_sets`` first, which
    reports what is wrong with it; a block that is not an object is left out here."""
    try:
        data = loads_untrusted(read_bounded(Path(path), MAX_LABEL_FILE_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if isinstance(data, dict) and "label_sets" in data:
        data = data["label_sets"]
    items = data if isinstance(data, list) else [data]
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        blocks = item.get("learned")
        if isinstance(blocks, dict):
            good = {str(k): v for k, v in blocks.items() if isinstance(v, dict)}
            if good:
                found[item["name"]] = good
    return found
