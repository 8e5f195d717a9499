"""Scoring with learned heads: a label set's probabilities and proposals when learning has
fitted a head for it (``cliptagger.core.learning.training`` explains the model), and the
threshold in force per label (the user's, the calibrated one, or the set's).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Optional, Sequence

from cliptagger.core.tagging.labels import LabelSet, Mode
from cliptagger.core.tagging.scoring import Proposal, SetPrototypes, probabilities

#: The held-out precision a calibrated threshold aims at.
DEFAULT_TARGET_PRECISION = 0.9
#: Accepts and rejects a label needs before its held-out accuracy is shown (one example gave "100%").
MIN_MEASURED = 3
#: The precisions a label's calibrated threshold may aim for (settings, `learn --target-precision`).
TARGET_PRECISION_RANGE = (0.5, 0.99)


@dataclass
class LabelStats:
    """What the held-out check found for one label (shown in the app and by ``learn --report``)."""

    keyword: str
    positives: int = 0
    negatives: int = 0
    zero_shot_accuracy: Optional[float] = None
    learned_accuracy: Optional[float] = None
    used: bool = False
    #: Calibrated threshold for the target precision (None: too few examples, the set's applies).
    threshold: Optional[float] = None
    #: Why learning was not attempted to the end (e.g. ``NUMERICAL_FAILURE``); None when it was.
    failure: Optional[str] = None

    def summary(self) -> str:
        """e.g. ``learned from 12 ✓ / 30 ✗, held-out accuracy 94%``."""
        text = f"learned from {self.positives} ✓ / {self.negatives} ✗"
        accuracy = self.learned_accuracy if self.used else self.zero_shot_accuracy
        if accuracy is not None and min(self.positives, self.negatives) >= MIN_MEASURED:
            text += f", held-out accuracy {accuracy:.0%}"
        elif accuracy is not None:  # "100%" from one example says nothing
            text += ", too few to measure accuracy"
        if self.failure:
            text += f" (zero-shot kept: {self.failure})"
        elif not self.used:
            text += " (zero-shot kept)"
        return text


@dataclass
class SetHead:
    label_set: str
    mode: Mode
    keywords: tuple[str, ...]
    weight: Any                       # (labels, dim) float32: learned rows (zero-shot rows where unused)
    bias: Any                         # (labels,) float32
    stats: list[LabelStats] = field(default_factory=list)

    def stat(self, keyword: str) -> Optional[LabelStats]:
        for stat in self.stats:
            if stat.keyword == keyword:
                return stat
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"label_set": self.label_set, "mode": self.mode.value, "keywords": list(self.keywords),
                "weight": [[round(float(v), 7) for v in row] for row in self.weight.tolist()],
                "bias": [float(v) for v in self.bias.tolist()], "stats": [asdict(s) for s in self.stats]}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "SetHead":
        """A head as ``to_dict`` wrote it; ``ValueError`` naming what is wrong for anything else
        (wrong types, shapes that do not match the keywords, non-finite numbers)."""
        import torch

        if not isinstance(data, dict):
            raise ValueError("a head must be a JSON object")
        keywords = data.get("keywords")
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ValueError("'keywords' must be a list of texts")
        try:
            weight = torch.tensor(data["weight"], dtype=torch.float32)
            bias = torch.tensor(data["bias"], dtype=torch.float32)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"its weights are not numbers in rows ({err})") from None
        if weight.ndim != 2 or weight.shape[0] != len(keywords) or tuple(bias.shape) != (len(keywords),):
            raise ValueError(f"its weights have shape {tuple(weight.shape)} and {tuple(bias.shape)} for "
                             f"{len(keywords)} keywords")
        if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
            raise ValueError("its weights are not all finite numbers")
        stats = data.get("stats", [])
        if not isinstance(stats, list) or not all(isinstance(s, dict) for s in stats):
            raise ValueError("'stats' must be a list of objects")
        return SetHead(str(data["label_set"]), Mode(data["mode"]), tuple(keywords), weight, bias,
                       [_checked_stats(LabelStats(**s)) for s in stats])


def _checked_stats(stats: LabelStats) -> LabelStats:
    """``stats`` if every field has its type (read from a file: anything may be there)."""
    def number(value: Any) -> bool:
        return value is None or (type(value) in (int, float) and math.isfinite(value))

    fine = (isinstance(stats.keyword, str) and type(stats.positives) is int and type(stats.negatives) is int
            and all(number(v) for v in (stats.zero_shot_accuracy, stats.learned_accuracy, stats.threshold))
            and type(stats.used) is bool and (stats.failure is None or isinstance(stats.failure, str)))
    if not fine:
        raise ValueError(f"the statistics of {str(stats.keyword)[:40]!r} have values of the wrong type")
    return stats


# ----------------------------------------------------------------------------- scoring


def zero_shot_weights(prototypes: SetPrototypes, logit_scale: float) -> Any:
    """(labels, dim) W0 such that the zero-shot logits are ``x @ W0.T`` (see module docstring)."""
    text = prototypes.text.double()
    if prototypes.label_set.mode is Mode.EXCLUSIVE or prototypes.sigmoid_family:
        return logit_scale * text
    return logit_scale * (text - prototypes.baseline.double()[None, :])


def zero_shot_bias(prototypes: SetPrototypes) -> Any:
    """(labels,) float64 c0 with the zero-shot logits ``x @ W0.T + c0``: 0, or SigLIP's bias."""
    import torch

    bias = prototypes.logit_bias if prototypes.sigmoid_family else 0.0
    return torch.full((int(prototypes.text.shape[0]),), float(bias or 0.0), dtype=torch.float64)


def _used_rows(prototypes: SetPrototypes, head: Optional[SetHead]) -> list[tuple[int, int]]:
    """(column in the set, row in the head) of every label whose learned row is in use."""
    label_set = prototypes.label_set
    if head is None or head.mode is not label_set.mode:
        return []
    if head.weight.shape[1] != prototypes.text.shape[1]:  # learned with another embedding size
        return []
    rows = {k: i for i, k in enumerate(head.keywords)}
    used = []
    for column, label in enumerate(label_set.labels):
        row = rows.get(label.keyword)
        stat = head.stats[row] if row is not None and row < len(head.stats) else None
        if row is not None and stat is not None and stat.used:
            used.append((column, row))
    return used


def set_probabilities(embeddings: Any, prototypes: SetPrototypes, logit_scale: float,
                      head: Optional[SetHead]) -> Any:
    """(images, labels) probabilities: zero-shot's, with each used learned row in its place."""
    import torch

    zero = probabilities(embeddings, prototypes, logit_scale)
    used = _used_rows(prototypes, head)
    if not used:
        return zero
    assert head is not None
    images = embeddings.float()
    columns = [c for c, _ in used]
    rows = [r for _, r in used]
    learned = images @ head.weight[rows].T + head.bias[rows][None, :]
    if prototypes.label_set.mode is Mode.INDEPENDENT:
        result = zero.clone()
        result[:, columns] = torch.sigmoid(learned)
        return result
    logits = logit_scale * (images @ prototypes.text.T)
    logits[:, columns] = learned
    return logits.softmax(dim=-1)


class ThresholdSource(str, Enum):
    """Where a label's threshold in force comes from (shown with it: "below learned threshold")."""

    SET = "the set's"
    LEARNED = "learned"
    YOURS = "your"


@dataclass(frozen=True)
class LabelThreshold:
    value: float
    source: ThresholdSource


def thresholds_with_sources(label_set: LabelSet, head: Optional[SetHead]) -> list[LabelThreshold]:
    """Per label: the user's override (``Label.threshold``), else its calibrated threshold
    where one was fitted, else the set's; with where it comes from."""
    by_keyword = {s.keyword: s for s in head.stats} if head is not None and head.mode is label_set.mode else {}
    found = []
    for label in label_set.labels:
        stat = by_keyword.get(label.keyword)
        if label.threshold is not None:
            found.append(LabelThreshold(label.threshold, ThresholdSource.YOURS))
        elif stat is not None and stat.threshold is not None:
            found.append(LabelThreshold(stat.threshold, ThresholdSource.LEARNED))
        else:
            found.append(LabelThreshold(label_set.threshold, ThresholdSource.SET))
    return found


def label_thresholds(label_set: LabelSet, head: Optional[SetHead]) -> list[float]:
    """Per label, the threshold in force (``thresholds_with_sources`` without the sources)."""
    return [threshold.value for threshold in thresholds_with_sources(label_set, head)]


def calibrated_threshold(head: Optional[SetHead], label_set: LabelSet, keyword: str) -> Optional[float]:
    """The threshold learning fitted for a label (None: none), shown next to the override."""
    if head is None or head.mode is not label_set.mode:
        return None
    stat = head.stat(keyword)
    return stat.threshold if stat is not None else None


def propose_with_thresholds(probabilities_: Any, label_set: LabelSet, thresholds: Sequence[float]) -> list[list[Proposal]]:
    """Like ``scoring.propose_batch`` with one threshold per label."""
    import torch

    k = min(label_set.max_tags, probabilities_.shape[1])
    limits = torch.tensor(list(thresholds), dtype=probabilities_.dtype)
    passing = torch.where(probabilities_ >= limits[None, :], probabilities_, torch.full_like(probabilities_, -1.0))
    values, indices = torch.topk(passing, k, dim=1)
    labels = label_set.labels
    return [[Proposal(labels[i], v) for v, i in zip(vrow, irow) if v >= 0]
            for vrow, irow in zip(values.tolist(), indices.tolist())]


# ----------------------------------------------------------------------------- training


