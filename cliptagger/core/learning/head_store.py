"""Learned heads on disk: one JSON file per model id (embedding spaces differ) in the data
folder, read defensively (a damaged file is set aside and named, never fatal), and the
``learned`` blocks that travel with a label-set export.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from cliptagger.core.errors import LabelSetError
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import atomic_write_text, read_bounded, set_aside
from cliptagger.core.storage.strict_json import loads_untrusted
from cliptagger.core.tagging.head_scoring import DEFAULT_TARGET_PRECISION, SetHead
from cliptagger.core.tagging.labels import LabelSet, label_set_from_dict, label_set_to_dict

HEADS_FORMAT = "cliptagger-heads"
HEADS_VERSION = 1
#: Far more than heads for thousands of keywords (about 10 KB each at 512 dimensions).
MAX_HEADS_BYTES = 256 * 1024 * 1024


def heads_path(model_id: str) -> Path:
    """One file per model id: ``data_dir()/heads/<readable>-<hash>.json``."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[:40]
    digest = hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:12]
    return paths.data_dir() / "heads" / f"{readable}-{digest}.json"


@dataclass
class LearnedModel:
    """Everything learned for one model id: the heads, and label sets made by learning
    (the "My keywords" set of ``cliptagger learn``)."""

    model_id: str
    heads: dict[str, SetHead] = field(default_factory=dict)
    label_sets: list[LabelSet] = field(default_factory=list)
    target_precision: float = DEFAULT_TARGET_PRECISION

    def to_json(self) -> str:
        return json.dumps({"format": HEADS_FORMAT, "version": HEADS_VERSION, "model_id": self.model_id,
                           "target_precision": self.target_precision,
                           "label_sets": [label_set_to_dict(s) for s in self.label_sets],
                           "heads": [h.to_dict() for h in self.heads.values()]}, ensure_ascii=False) + "\n"

    @staticmethod
    def from_json(text: str) -> "LearnedModel":
        """``ValueError`` saying what is wrong for anything but a heads file this version wrote."""
        data = loads_untrusted(text)
        if not isinstance(data, dict) or data.get("format") != HEADS_FORMAT:
            raise ValueError("it is not a cliptagger heads file")
        version, heads, sets = data.get("version", 0), data.get("heads", []), data.get("label_sets", [])
        target = data.get("target_precision", DEFAULT_TARGET_PRECISION)
        if type(version) is not int or version > HEADS_VERSION:
            raise ValueError(f"it is heads format version {version!r}; this cliptagger reads up to {HEADS_VERSION}")
        if not isinstance(heads, list) or not isinstance(sets, list) or type(target) not in (int, float):
            raise ValueError("its 'heads', 'label_sets' or 'target_precision' have the wrong type")
        if not isinstance(data.get("model_id"), str):
            raise ValueError("it names no model")
        try:
            label_sets = [label_set_from_dict(s) for s in sets]
            parsed = [SetHead.from_dict(h) for h in heads]
        except (LabelSetError, KeyError, TypeError) as err:
            raise ValueError(f"a head or label set in it is damaged ({err})") from None
        return LearnedModel(data["model_id"], {h.label_set: h for h in parsed}, label_sets, float(target))


def heads_for_export(learned: Optional[LearnedModel], set_names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{set name: {model id: head}}`` for the sets of a label export that have a learned head
    (for ``labels.save_label_sets(..., learned=...)``): heads travel with an export."""
    if learned is None:
        return {}
    return {name: {learned.model_id: learned.heads[name].to_dict()} for name in set_names if name in learned.heads}


def import_heads(learned: LearnedModel, blocks: dict[str, dict[str, Any]],
                 renamed: Optional[dict[str, str]] = None) -> tuple[int, list[str]]:
    """Install the heads of an imported label file (``labels.load_learned_blocks``) learned with
    this model id; ``renamed``: imported set name -> the name it got. Heads of other models are
    left out (embedding spaces differ). Returns (heads installed, problems)."""
    installed, problems = 0, []
    for name, by_model in blocks.items():
        data = by_model.get(learned.model_id)
        if data is None:
            continue
        try:
            head = SetHead.from_dict(data)
        except (KeyError, TypeError, ValueError) as err:
            problems.append(f"the learned head of {name!r} could not be read ({err}); zero-shot is used")
            continue
        head.label_set = (renamed or {}).get(name, name)
        learned.heads[head.label_set] = head
        installed += 1
    return installed, problems


def load_learned(model_id: str) -> tuple[LearnedModel, list[str]]:
    """The stored heads of ``model_id`` (empty when none); a file that cannot be read is
    reported (second value) and left where it is, never overwritten blindly: it is set aside
    before anything new is saved."""
    location = heads_path(model_id)
    try:
        text = read_bounded(location, MAX_HEADS_BYTES).decode("utf-8")
    except FileNotFoundError:
        return LearnedModel(model_id), []
    except OSError as err:
        return LearnedModel(model_id), [f"{location} cannot be read ({err.strerror or err}); learned heads are ignored"]
    except ValueError as err:  # too large, or not UTF-8
        return LearnedModel(model_id), [f"{location} could not be read ({err}); learned heads are ignored"]
    try:
        learned = LearnedModel.from_json(text)
    except ValueError as err:
        return LearnedModel(model_id), [f"{location} could not be read ({err}); learned heads are ignored"]
    if learned.model_id != model_id:
        return LearnedModel(model_id), [f"{location} belongs to another model; ignored"]
    return learned, []


def save_learned(learned: LearnedModel) -> Path:

    location = heads_path(learned.model_id)
    if location.exists():
        try:
            LearnedModel.from_json(read_bounded(location, MAX_HEADS_BYTES).decode("utf-8"))
        except (ValueError, OSError):
            set_aside(location)
    location.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(location, learned.to_json())
    return location
