"""Never worse than zero-shot, where the user sees it: the proposals.

After a head is trained, its proposals on the user's own decided photos are compared with
zero-shot's, through the very functions tagging uses (``set_probabilities``,
``label_thresholds``, ``propose_with_thresholds``) on the same float32 embeddings. Wherever
the user accepted a tag that zero-shot proposes and the learned head does not, everything that
could have pushed it out goes back to zero-shot: the tag's own learned row and calibrated
threshold, and those of every label the head proposes there instead (an exclusive set, or
``max_tags``, lets one label crowd out another). Repeated until nothing is hidden; with every
row and threshold back at zero-shot's the proposals are zero-shot's, so it ends.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cliptagger.core.tagging.head_scoring import (
    SetHead,
    label_thresholds,
    propose_with_thresholds,
    set_probabilities,
    zero_shot_bias,
)
from cliptagger.core.tagging.scoring import SetPrototypes

HIDES_ZERO_SHOT_TAGS = "it would hide tags you accepted that zero-shot finds"


def proposed(embeddings: Any, prototypes: SetPrototypes, logit_scale: float, head: SetHead | None) -> list[set[int]]:
    """Per photo, the columns tagging proposes (with ``head``, or zero-shot when None)."""
    label_set = prototypes.label_set
    probabilities = set_probabilities(embeddings, prototypes, logit_scale, head)
    rows = propose_with_thresholds(probabilities, label_set, label_thresholds(label_set, head))
    column = {label.keyword: j for j, label in enumerate(label_set.labels)}
    return [{column[p.label.keyword] for p in row} for row in rows]


def keep_zero_shot_finds(head: SetHead, embeddings: Any, accepted: Any, prototypes: SetPrototypes,
                         logit_scale: float, zero_shot_weight: Any) -> SetHead:
    """``head`` with rows and thresholds put back to zero-shot until, on these photos, it
    proposes every accepted tag (``accepted``: photos x labels, true where accepted) that
    zero-shot proposes. ``zero_shot_weight``: the rows to put back."""
    zero = proposed(embeddings, prototypes, logit_scale, None)
    zero_bias = zero_shot_bias(prototypes)
    wanted = [{j for j in found if bool(accepted[i, j])} for i, found in enumerate(zero)]
    weight, bias, stats = head.weight.clone(), head.bias.clone(), list(head.stats)
    while True:
        current = SetHead(head.label_set, head.mode, head.keywords, weight, bias, stats)
        learned = proposed(embeddings, prototypes, logit_scale, current)
        blamed: set[int] = set()
        for i, (want, got) in enumerate(zip(wanted, learned)):
            if want - got:
                blamed |= (want - got) | (got - zero[i])
        blamed = {j for j in blamed if stats[j].used or stats[j].threshold is not None}  # what can go back
        if not blamed:
            return current
        for j in blamed:
            weight[j] = zero_shot_weight[j].to(weight.dtype)
            bias[j] = zero_bias[j].to(bias.dtype)
            stats[j] = replace(stats[j], used=False, threshold=None,
                               failure=stats[j].failure or HIDES_ZERO_SHOT_TAGS)
