"""Calibrated thresholds, and the rule that learning never hides a tag zero-shot finds.

See ``cliptagger.core.learning.training`` for where they are used and docs/learning.md for
the rule in the user's words.
"""

from __future__ import annotations

import math
from typing import Any, Optional

#: Positives and negatives a label needs before its threshold is calibrated.
MIN_CALIBRATION = 5


def calibrated_threshold_of(probability: Any, target: Any, mask: Any, precision: float, floor: float) -> Optional[float]:
    """The calibrated threshold of one label from its held-out probabilities, or None (too few
    examples, or the target precision cannot be met without hiding an accepted tag).

    Never above the lowest accepted probability: the lowest threshold at or below it at which
    the precision of ``p >= t`` over the examples still reaches ``precision`` (lowering it only
    lets rejected photos in), then moved down to the middle, in log-odds, of the gap to the next
    example below: a new photo a hair under the lowest accepted one is still proposed. With no
    example below, the gap reaches down to ``floor`` (the set's threshold) if that is lower.
    Sorted once, counted with cumulative sums: 10,000 photos take milliseconds."""
    import torch

    chosen = mask > 0
    p, y = probability[chosen].double(), target[chosen].double()
    if int(y.sum()) < MIN_CALIBRATION or int((1 - y).sum()) < MIN_CALIBRATION:
        return None
    lowest_accepted = float(p[y > 0].min())
    descending, order = torch.sort(p, descending=True)
    labels = y[order]
    hits = labels.cumsum(0)                               # accepted among the k+1 highest
    shown = torch.arange(1, p.numel() + 1, dtype=torch.float64)
    # a threshold at descending[k] admits every example scoring >= it (ties included)
    last_of_tie = torch.searchsorted(-descending, -descending, right=True) - 1
    admitted_precision = hits[last_of_tie] / shown[last_of_tie]
    candidate = (descending <= lowest_accepted) & (admitted_precision >= precision)
    if not bool(candidate.any()):
        return None
    k = int(torch.nonzero(candidate).max())               # the lowest such threshold
    t = float(descending[k])
    below = descending[descending < t]
    lower = float(below.max()) if below.numel() else min(floor, t)
    return round(_middle_in_log_odds(lower, t), 6)


def hides_accepted(zero: Any, learned: Any, target: Any, mask: Any, zero_threshold: float,
                    learned_threshold: float) -> bool:
    """Whether the learned scorer (held-out probabilities, at its threshold) would leave out a
    tag the user accepted that zero-shot proposed: then the head is not used."""
    accepted_and_found = (mask > 0) & (target > 0) & (zero >= zero_threshold)
    return bool((learned[accepted_and_found] < learned_threshold).any())


def _middle_in_log_odds(low: float, high: float) -> float:
    def logit(v: float) -> float:
        v = min(max(v, 1e-6), 1 - 1e-6)
        return math.log(v / (1 - v))
    if low >= high:
        return high
    middle = (logit(low) + logit(high)) / 2
    return min(high, 1 / (1 + math.exp(-middle)))
