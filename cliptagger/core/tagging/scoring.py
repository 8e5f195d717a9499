"""From embeddings to per-label probabilities and proposed tags.

Prototypes (CLIP's prompt ensembling): every prompt of a label is embedded and
L2-normalized, the label's prototype is their mean, normalized again.

Exclusive sets ("pick one", e.g. scene type): softmax over the set of
``logit_scale * cos(image, prototype)``, exactly CLIP's zero-shot classifier.

Independent sets ("any number", e.g. objects present): a softmax over the whole set would
shrink every probability as labels are added, so each label is scored on its own, as a
two-way CLIP softmax between the label and a neutral caption ("a photo.", ...):

    p(label) = exp(s*c_label) / (exp(s*c_label) + exp(s*c_base)) = sigmoid(s * (c_label - c_base))

where s is the model's logit scale and c_base the similarity to the baseline prototype.
It is the probability CLIP itself gives to "this photo is better described by the label
than by a caption that names nothing", uses only the model's own calibration, and does not
change when other labels are added or removed.

SigLIP-family models (their open_clip model has a ``logit_bias``) were trained with a
per-pair sigmoid loss instead of CLIP's softmax, so they come with their own calibrated
probability that a text matches an image::

    p(label) = sigmoid(s * c_label + b)            (b: the model's learned logit bias)

* Independent sets use exactly that: each label is judged on its own, as SigLIP was trained
  to, with no baseline caption (a baseline would replace the model's learned threshold b by
  a caption's similarity that SigLIP never learned to compare against). Adding or removing
  other labels cannot change a label's probability.
* Exclusive sets still take the softmax of ``s * c + b`` over the set: "which one of these"
  is a question about the labels relative to each other, and b, the same for every label,
  cancels out of a softmax (SigLIP's s is larger than CLIP's, so its softmax is sharper).

Both are linear in the image embedding; ``cliptagger.core.learning.training`` starts a learned head
at exactly these weights and moves it with the user's accepts and rejects (formula there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol, Sequence

from cliptagger.core.tagging.labels import Label, LabelSet, Mode


class TextEncoder(Protocol):
    def encode_texts(self, texts: Sequence[str]) -> Any: ...


@dataclass(frozen=True)
class SetPrototypes:
    label_set: LabelSet
    #: (labels, dim) L2-normalized prototypes, in the set's label order.
    text: Any
    #: (dim,) prototype of the neutral caption (independent sets of CLIP-family models only).
    baseline: Any = None
    #: The model's logit bias for SigLIP-family models (None: CLIP family, see the docstring).
    logit_bias: Optional[float] = None

    @property
    def sigmoid_family(self) -> bool:
        """Independent labels scored by the model's own sigmoid and bias (SigLIP)."""
        return self.logit_bias is not None and self.label_set.mode is Mode.INDEPENDENT


@dataclass(frozen=True)
class Proposal:
    label: Label
    probability: float

    @property
    def keyword(self) -> str:
        return self.label.keyword


def ensemble(embeddings: Any) -> Any:
    """Mean of normalized prompt embeddings, normalized again."""
    import torch

    normalized = torch.nn.functional.normalize(embeddings.float(), dim=-1)
    return torch.nn.functional.normalize(normalized.mean(dim=0), dim=-1)


def build_prototypes(encoder: TextEncoder, label_set: LabelSet, logit_bias: Optional[float] = None) -> SetPrototypes:
    """Encode every prompt of the set in one pass and ensemble them per label.

    ``logit_bias``: the model's (SigLIP family), or None (CLIP family: independent sets are
    scored against the baseline caption, whose prompts are encoded too)."""
    import torch

    groups = [label_set.prompts_for(label) for label in label_set.labels]
    with_baseline = label_set.mode is Mode.INDEPENDENT and logit_bias is None
    if with_baseline:
        groups.append(tuple(label_set.baseline_prompts))
    flat = [prompt for group in groups for prompt in group]
    embeddings = encoder.encode_texts(flat)
    prototypes, start = [], 0
    for group in groups:
        prototypes.append(ensemble(embeddings[start : start + len(group)]))
        start += len(group)
    if with_baseline:
        return SetPrototypes(label_set, torch.stack(prototypes[:-1]), prototypes[-1])
    return SetPrototypes(label_set, torch.stack(prototypes), logit_bias=logit_bias)


def probabilities(image_embeddings: Any, prototypes: SetPrototypes, logit_scale: float) -> Any:
    """(images, labels) probabilities for normalized image embeddings."""
    import torch

    images = image_embeddings.float()
    similarity = images @ prototypes.text.T
    if prototypes.label_set.mode is Mode.EXCLUSIVE:
        return (logit_scale * similarity).softmax(dim=-1)  # a SigLIP bias would cancel out here
    if prototypes.logit_bias is not None:
        return torch.sigmoid(logit_scale * similarity + prototypes.logit_bias)
    baseline = images @ prototypes.baseline
    return torch.sigmoid(logit_scale * (similarity - baseline[:, None]))


def label_probability(embedding: Any, all_prototypes: Sequence[SetPrototypes], logit_scale: float,
                      set_name: str, keyword: str) -> "float | None":
    """One label's probability for one normalized image embedding (None: no such label)."""
    for prototypes in all_prototypes:
        keywords = [l.keyword for l in prototypes.label_set.labels]
        if prototypes.label_set.name == set_name and keyword in keywords:
            row = probabilities(embedding[None, :], prototypes, logit_scale)[0]
            return float(row[keywords.index(keyword)])
    return None


def propose_batch(probabilities_: Any, label_set: LabelSet) -> list[list[Proposal]]:
    """``propose`` for a whole (images, labels) tensor at once (re-scoring 10k photos < 1 s)."""
    import torch

    k = min(label_set.max_tags, probabilities_.shape[1])
    values, indices = torch.topk(probabilities_, k, dim=1)
    keep = values >= label_set.threshold
    labels = label_set.labels
    result = []
    for value_row, index_row, keep_row in zip(values.tolist(), indices.tolist(), keep.tolist()):
        result.append([Proposal(labels[i], v) for v, i, ok in zip(value_row, index_row, keep_row) if ok])
    return result


def propose(row: Sequence[float], label_set: LabelSet) -> list[Proposal]:
    """Labels at or above the set's threshold, most probable first, at most max_tags."""
    ranked = sorted(zip(label_set.labels, (float(p) for p in row)), key=lambda pair: -pair[1])
    chosen = [Proposal(label, p) for label, p in ranked if p >= label_set.threshold]
    return chosen[: label_set.max_tags]
