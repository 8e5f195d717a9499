"""Training learned heads: labels that start at zero-shot and move with the user's decisions.

The zero-shot scorer (``cliptagger.core.tagging.scoring``) is already a linear classifier over the
normalized image embedding x, with weights made of text prototypes and the model's logit
scale s::

    exclusive set:    logits_j = x . W0_j,   W0_j = s * t_j               p = softmax(logits)
    independent set:  logit_j  = x . W0_j,   W0_j = s * (t_j - t_base)    p_j = sigmoid(logit_j)

A learned head keeps that form and adds a bias, ``logit_j = x . W_j + c_j``, starting at
W = W0, c = 0. It is fitted to the examples (accepts: positive, rejects: negative) by
minimizing the weighted log-loss plus an L2 pull back to the prototypes::

    L(W, c) = sum_i sum_j a_ij * logloss(y_ij, p_ij(W, c))  +  lambda/2 * (||W - W0||^2 + ||c||^2)

Exclusive sets use the multinomial log-loss (an accept is the photo's class, a reject adds
-log(1 - p_j)); independent sets one binary log-loss per label, with weights a_ij that give
a label's positives and its negatives equal total weight (imbalance). With one example the
pull dominates and the head barely moves; with fifty the data does. The problem is convex:
L-BFGS in float64 from W0 finds the same minimum every time (deterministic).

**Never worse than zero-shot.** Per label, K-fold cross-validation over the photos with
examples compares held-out (balanced) accuracy at the set's threshold of the zero-shot
scorer and of the head trained without the held-out photos. The learned row W_j, c_j is
used only when the label has at least ``MIN_POSITIVES`` and ``MIN_NEGATIVES`` examples and
the learned accuracy is strictly higher; otherwise the row stays W0_j, c_j = 0, so with one
or contradictory examples the probabilities are exactly zero-shot's (bit for bit: scoring
then runs the zero-shot code path).

A used head must also keep every tag the user accepted that zero-shot proposed: when its
held-out probability (at its threshold) would leave one out, the row stays zero-shot's and the
label says why (``HIDES_ZERO_SHOT_TAGS``); and the finished head's proposals on the decided
photos are checked against zero-shot's (``never_worse``).

**Calibrated thresholds.** From the held-out probabilities of the scorer that is used, when
there are at least ``MIN_CALIBRATION`` positives and negatives: never above the lowest
accepted probability (a threshold above it would hide the user's own tag, and every new photo
a hair below it); the lowest value there at which the held-out precision still reaches the
target (default 0.9); then halfway, in log-odds, down to the next example below, so a new
photo just under the lowest accepted one is still proposed. When the target cannot be met
without hiding an accepted tag, the label keeps the set's threshold (see docs/learning.md).

Heads are stored per model id (embedding spaces differ) as JSON in the data folder.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Sequence

from cliptagger.core.learning import span_newton
from cliptagger.core.learning.calibration import calibrated_threshold_of, hides_accepted
from cliptagger.core.learning.examples import Example
from cliptagger.core.learning.never_worse import HIDES_ZERO_SHOT_TAGS, keep_zero_shot_finds
from cliptagger.core.tagging.head_scoring import (
    DEFAULT_TARGET_PRECISION,
    LabelStats,
    SetHead,
    zero_shot_bias,
    zero_shot_weights,
)
from cliptagger.core.tagging.labels import LabelSet, Mode
from cliptagger.core.tagging.scoring import SetPrototypes, probabilities

log = logging.getLogger(__name__)

#: Strength of the pull towards the zero-shot prototypes (in units of one example's log-loss).
REGULARIZATION = 0.1
MIN_POSITIVES = 2
MIN_NEGATIVES = 2
FOLDS = 5
LARGE = 1000
#: Threads for fitting (0: torch's own count). The L-BFGS state is (dim + 1) x labels: big
#: enough that torch splits every vector op over its thread pool, small enough that the split
#: costs more than the op, and on a busy machine each split waits for a descheduled thread
#: (2 shared cores under load: one 512-d fit of 10,000 x 100 took 15 s on 2 threads, 1.6 s on
#: 1). On idle cores the pool wins (0.8 s against 1.7 s), so the default keeps torch's count;
#: 1 suits a machine that is busy with other work. ``benchmarks/few_shot.py --compare`` shows both.
FIT_THREADS = 0
#: L-BFGS iterations: the final fit runs to its tolerance; a held-out fold starts from the
#: final fit (close to its own minimum) and only decides used-or-not, so it stops earlier.
MAX_ITERATIONS = 100
FOLD_ITERATIONS = 25
NUMERICAL_FAILURE = "the fit failed numerically"




@dataclass
class _Problem:
    """One set's examples as matrices: photos x labels."""

    x: Any              # (n, dim) float64
    target: Any         # (n, L) 1 positive, 0 negative
    weight: Any         # (n, L) example weights, 0 where the photo says nothing about the label
    positives: list[int]
    negatives: list[int]


def _build_problem(examples: Sequence[Example], label_set: LabelSet) -> Optional[_Problem]:
    import torch

    columns = {label.keyword: j for j, label in enumerate(label_set.labels)}
    photos: dict[str, int] = {}  # keyed by str: a Path hashes by building a tuple every time
    vectors: list[Any] = []
    rows, cols, signs = [], [], []
    name = label_set.name
    for example in examples:  # one pass, no per-example tensor work (10,000 x 100 is 1M examples)
        column = columns.get(example.keyword)
        if column is None or example.label_set != name:
            continue
        key = str(example.path)
        row = photos.get(key)
        if row is None:
            row = photos[key] = len(vectors)
            vectors.append(example.embedding)
        else:
            vectors[row] = example.embedding  # the latest decision's embedding
        rows.append(row)
        cols.append(column)
        signs.append(example.positive)
    if not rows:
        return None
    n, labels = len(vectors), len(label_set.labels)
    target = torch.zeros(n, labels, dtype=torch.float64)
    mask = torch.zeros(n, labels, dtype=torch.float64)
    index = (torch.tensor(rows), torch.tensor(cols))
    mask[index] = 1.0
    target[index] = torch.tensor(signs, dtype=torch.float64)
    if label_set.mode is Mode.EXCLUSIVE:
        # An accepted label is the photo's class: every other label is a negative for it.
        has_class = target.sum(dim=1) > 0
        mask[has_class] = 1.0
        first = target.argmax(dim=1)
        target[has_class] = 0.0
        target[has_class, first[has_class]] = 1.0
    positives = [int(v) for v in (target * mask).sum(dim=0).tolist()]
    negatives = [int(v) for v in ((1 - target) * mask).sum(dim=0).tolist()]
    weight = mask.clone()
    if label_set.mode is Mode.INDEPENDENT:
        for j in range(labels):  # positives and negatives of a label weigh the same in total
            total = positives[j] + negatives[j]
            if positives[j] and negatives[j]:
                weight[:, j] = torch.where(target[:, j] > 0, mask[:, j] * total / (2 * positives[j]),
                                           mask[:, j] * total / (2 * negatives[j]))
    x = torch.stack(vectors).double()
    return _Problem(x, target, weight, positives, negatives)


def _data_loss(logits: Any, target: Any, weight: Any, mode: Mode) -> Any:
    """The weighted log-loss of (photos, labels) logits (module docstring)."""
    import torch

    if mode is Mode.INDEPENDENT:
        return (weight * (torch.nn.functional.softplus(logits) - target * logits)).sum()
    log_p = logits.log_softmax(dim=-1)
    is_class = target.sum(dim=1) > 0
    data = -(log_p[is_class] * target[is_class]).sum()
    # A reject: -log(1 - p_j) = logsumexp(all) - logsumexp(all but j)
    rejected = weight * (1 - target) * (~is_class)[:, None]
    if bool(rejected.any()):
        n, labels = logits.shape
        others = logits[:, None, :].expand(n, labels, labels).clone()
        others[:, torch.arange(labels), torch.arange(labels)] = float("-inf")
        minus = logits.logsumexp(dim=-1)[:, None] - others.logsumexp(dim=-1)
        data = data + (rejected * minus).sum()
    return data


def fit_head(x: Any, target: Any, weight: Any, w0: Any, mode: Mode,
             regularization: float = REGULARIZATION, start: Optional[tuple[Any, Any]] = None,
             max_iterations: Optional[int] = None) -> tuple[Any, Any]:
    """Minimize the regularized log-loss from W0; returns (W, c) as float64.

    L-BFGS, preconditioned: with theta = [W - W0, c] per label and
    B = 1/4 [X 1]^T diag(mean example weight) [X 1] + lambda I (a bound of the log-loss
    curvature, shared by the labels) = R^T R, it runs on u = R theta, where the problem is
    close to isotropic. CLIP embeddings crowd around a common direction, which makes the
    plain problem ill-conditioned; this takes the iterations from hundreds to tens. Only the
    (photos, labels) logits go through autograd; the matrix products are done by hand.
    ``start``: (W, c) to start from instead of (W0, 0) (the held-out folds start from the
    fit on every photo, which is close: same minimum, fewer iterations).
    Runs on ``FIT_THREADS`` threads (restored afterwards).
    """
    with _fit_threads():
        return _fit_head(x, target, weight, w0, mode, regularization, start,
                         max_iterations if max_iterations is not None else MAX_ITERATIONS)


@contextmanager
def _fit_threads() -> Iterator[None]:
    """Run on ``FIT_THREADS`` torch threads, restoring the count afterwards."""
    import torch

    previous = torch.get_num_threads()
    if FIT_THREADS and FIT_THREADS != previous:
        torch.set_num_threads(FIT_THREADS)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _fit_head(x: Any, target: Any, weight: Any, w0: Any, mode: Mode, regularization: float,
              start: Optional[tuple[Any, Any]], max_iterations: int) -> tuple[Any, Any]:
    import torch

    dtype = torch.float32
    n, dim = x.shape
    labels = w0.shape[0]
    design = torch.cat([x.to(dtype), torch.ones(n, 1, dtype=dtype)], dim=1)
    target, weight = target.to(dtype), weight.to(dtype)
    base = torch.cat([w0.to(dtype).T, torch.zeros(1, labels, dtype=dtype)], dim=0)  # (dim + 1, labels)
    mean_weight = weight.mean(dim=1)
    curvature = 0.25 * (design * mean_weight[:, None]).T @ design
    curvature += regularization * torch.eye(dim + 1, dtype=dtype)
    upper = torch.linalg.cholesky(curvature.double()).T.to(dtype)  # curvature = upper.T @ upper
    if start is None:
        u = torch.zeros(dim + 1, labels, dtype=dtype)
    else:
        theta0 = torch.cat([(start[0] - w0).T, start[1][None, :]], dim=0).to(dtype)
        u = (upper @ theta0).contiguous()
    u.grad = torch.zeros_like(u)
    total = float(weight.sum()) or 1.0
    optimizer = torch.optim.LBFGS([u], lr=1.0, max_iter=max_iterations, tolerance_grad=1e-5 * max(1.0, total / n),
                                  tolerance_change=1e-9, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Any:
        theta = torch.linalg.solve_triangular(upper, u, upper=True)
        logits = design @ (base + theta)
        if mode is Mode.INDEPENDENT:  # by hand: the (photos, labels) matrix can be large
            value = (weight * (torch.nn.functional.softplus(logits) - target * logits)).sum()
            grad_logits = weight * (torch.sigmoid(logits) - target)
        else:
            logits.requires_grad_(True)
            with torch.enable_grad():
                value = _data_loss(logits, target, weight, mode)
                (grad_logits,) = torch.autograd.grad(value, logits)
        grad_theta = design.T @ grad_logits + regularization * theta
        u.grad = torch.linalg.solve_triangular(upper.T, grad_theta, upper=False).contiguous()
        return value.detach() + 0.5 * regularization * (theta ** 2).sum()

    with torch.no_grad():
        optimizer.step(closure)  # type: ignore[no-untyped-call]  # torch leaves step untyped
        theta = torch.linalg.solve_triangular(upper, u, upper=True).double()
    return w0.double() + theta[:dim].T, theta[dim]


#: An independent label with at most this many examples is solved exactly in the span of its
#: examples (``span_newton``: a k x k Newton solve per iteration, cost ~k^3); above it, L-BFGS
#: in the full embedding space (cost ~photos x dim per iteration, shared by the labels).
SPAN_MAX_EXAMPLES = 256
#: Labels per span batch: with 256 examples each and 5 folds, about 250 MB of float64 at most.
SPAN_BATCH = 64


def _solver_plan(problem: _Problem, mode: Mode, eligible: Sequence[bool]) -> list[tuple[list[int], Any]]:
    """Which labels each solver fits: [(columns, solver)]. Exclusive sets are one multinomial
    problem (all labels at once, L-BFGS); an independent set's labels are separate problems:
    those with few examples go to the exact span solver, the rest share one L-BFGS run."""
    if not any(eligible):
        return []
    labels = len(eligible)
    if mode is Mode.EXCLUSIVE:
        return [(list(range(labels)), _fit_full_space)]
    counts = (problem.weight > 0).sum(dim=0).tolist()
    small = [j for j in range(labels) if eligible[j] and counts[j] <= SPAN_MAX_EXAMPLES]
    large = [j for j in range(labels) if eligible[j] and counts[j] > SPAN_MAX_EXAMPLES]
    return [(group, solver) for group, solver in ((small, _fit_in_span), (large, _fit_full_space)) if group]


def _fit_full_space(problem: _Problem, columns: list[int], w0: Any, test_masks: Sequence[Any],
                    regularization: float, mode: Mode, held: Any) -> tuple[Any, Any, Any, Any]:
    """(W rows, biases, held-out probabilities (photos, columns), failed (columns,) bool) by
    L-BFGS over the whole space: the final fit, then one fit per fold, started from the final
    one. ``held``: the zero-shot probabilities, kept where no fold predicts (a copy is
    returned). ``failed``: columns whose fit is not finite (they keep zero-shot)."""
    import torch

    target, weight, start_w0 = problem.target[:, columns], problem.weight[:, columns], w0[columns]
    final_w, final_c = fit_head(problem.x, target, weight, start_w0, mode, regularization)
    held = held.clone()
    for test in test_masks:
        train = ~test
        w, c = fit_head(problem.x[train], target[train], weight[train], start_w0, mode, regularization,
                        start=(final_w, final_c), max_iterations=FOLD_ITERATIONS)
        held[test] = _predict(problem.x[test], w, c, mode)
    failed = ~(torch.isfinite(final_w).all(dim=1) & torch.isfinite(final_c) & torch.isfinite(held).all(dim=0))
    return final_w, final_c, held, failed


def _fit_in_span(problem: _Problem, columns: list[int], w0: Any, test_masks: Sequence[Any],
                 regularization: float, mode: Mode, held: Any) -> tuple[Any, Any, Any, Any]:
    """The same as ``_fit_full_space`` for independent labels with few examples, exactly, by
    Newton in the span of each label's examples (``span_newton``); labels with a similar
    number of examples and every fold in one batch, ``SPAN_BATCH`` labels at a time (memory
    stays bounded for a set of a thousand labels, and little is padded)."""
    import torch

    counts = (problem.weight[:, columns] > 0).sum(dim=0).tolist()
    order = sorted(range(len(columns)), key=lambda i: (counts[i], i))
    w = torch.empty(len(columns), problem.x.shape[1], dtype=torch.float64)
    c = torch.empty(len(columns), dtype=torch.float64)
    failed = torch.zeros(len(columns), dtype=torch.bool)
    held = held.clone()
    for start in range(0, len(order), SPAN_BATCH):
        chunk = order[start:start + SPAN_BATCH]
        w[chunk], c[chunk], held[:, chunk], failed[chunk] = _fit_in_span_batch(
            problem, [columns[i] for i in chunk], w0, test_masks, regularization, held[:, chunk])
    return w, c, held, failed


def _fit_in_span_batch(problem: _Problem, columns: list[int], w0: Any, test_masks: Sequence[Any],
                       regularization: float, held: Any) -> tuple[Any, Any, Any, Any]:
    """One batch of ``_fit_in_span``; ``held`` (a copy of these columns) is filled in and returned."""
    import torch


    n, dim = problem.x.shape
    design = torch.cat([problem.x.double(), torch.ones(n, 1, dtype=torch.float64)], dim=1)
    rows = [torch.nonzero(problem.weight[:, j] > 0).flatten() for j in columns]
    k = max(int(r.numel()) for r in rows)
    index = torch.zeros(len(columns), k, dtype=torch.long)
    valid = torch.zeros(len(columns), k, dtype=torch.bool)
    for c, r in enumerate(rows):
        index[c, :r.numel()], valid[c, :r.numel()] = r, True
    column_index = torch.tensor(columns)[:, None].expand(-1, k)
    examples = design[index] * valid[..., None]                       # (C, k, dim + 1)
    gram = examples @ examples.transpose(1, 2)
    base = torch.einsum("ckd,cd->ck", examples[..., :dim], w0[columns].double())
    target = problem.target[index, column_index] * valid
    weight = problem.weight[index, column_index] * valid
    full, failed = span_newton.solve(span_newton.SpanProblems(gram, base, target, weight), regularization)
    theta = torch.einsum("ckd,ck->cd", examples, full)
    if test_masks:
        held_rows = torch.stack([t[index] & valid for t in test_masks])  # (F, C, k)
        folds = len(test_masks)
        batch = span_newton.SpanProblems(gram.repeat(folds, 1, 1), base.repeat(folds, 1), target.repeat(folds, 1),
                                         (weight[None] * ~held_rows).reshape(folds * len(columns), k))
        start = (full[None] * ~held_rows).reshape(folds * len(columns), k)
        alpha, fold_failed = span_newton.solve(batch, regularization, start=start)
        failed = failed | fold_failed.reshape(folds, len(columns)).any(dim=0)
        logits = batch.base + (batch.gram @ alpha[..., None])[..., 0]
        probability = torch.sigmoid(logits).reshape(folds, len(columns), k)
        position = torch.arange(len(columns))[:, None].expand(-1, k)  # column of `held`
        for f in range(folds):
            chosen = held_rows[f]
            held[index[chosen], position[chosen]] = probability[f][chosen]
    return w0[columns].double() + theta[:, :dim], theta[:, dim], held, failed


def _predict(x: Any, w: Any, bias: Any, mode: Mode) -> Any:
    logits = x @ w.T + bias[None, :]
    return logits.sigmoid() if mode is Mode.INDEPENDENT else logits.softmax(dim=-1)


def _folds(problem: _Problem, count: int) -> list[Any]:
    """Deterministic, roughly stratified folds: photos ordered by their rarest positive label."""
    import torch

    n = problem.x.shape[0]
    positives = torch.tensor(problem.positives, dtype=torch.float64)
    rarity = torch.where(problem.target > 0, positives[None, :], torch.full_like(problem.target, float("inf")))
    key = rarity.min(dim=1).values.tolist()
    order = sorted(range(n), key=lambda i: (key[i], i))
    assignment = torch.empty(n, dtype=torch.long)
    for position, index in enumerate(order):
        assignment[index] = position % count
    return [assignment == fold for fold in range(count)]


def _balanced_accuracies(probability: Any, target: Any, weight: Any, threshold: float) -> list[Optional[float]]:
    """Per label (column): weighted accuracy at ``threshold`` over the photos with a say
    (weight > 0; the weights balance positives and negatives), None where there are none."""
    right = ((probability >= threshold).double() == target).double()
    totals = weight.sum(dim=0)
    scores = (right * weight).sum(dim=0) / totals.clamp_min(1e-300)
    return [float(v) if bool(t > 0) else None for v, t in zip(scores, totals)]


def train_set_head(examples: Sequence[Example], prototypes: SetPrototypes, logit_scale: float,
                   target_precision: float = DEFAULT_TARGET_PRECISION,
                   regularization: Optional[float] = None) -> Optional[SetHead]:
    """The head of one label set from its examples, with the per-label held-out check
    (on ``FIT_THREADS`` threads)."""
    with _fit_threads():
        return _train_set_head(examples, prototypes, logit_scale, target_precision,
                               REGULARIZATION if regularization is None else regularization)


def _train_set_head(examples: Sequence[Example], prototypes: SetPrototypes, logit_scale: float,
                    target_precision: float, regularization: float) -> Optional[SetHead]:
    import torch

    label_set = prototypes.label_set
    problem = _build_problem(examples, label_set)
    if problem is None:
        return None
    mode = label_set.mode
    w0 = zero_shot_weights(prototypes, logit_scale)
    zero_bias = zero_shot_bias(prototypes)  # 0, or a SigLIP model's bias (independent sets)
    n = problem.x.shape[0]
    zero_p = probabilities(problem.x.float(), prototypes, logit_scale).double()
    eligible = [p >= MIN_POSITIVES and q >= MIN_NEGATIVES for p, q in zip(problem.positives, problem.negatives)]
    folds = min(FOLDS if n <= LARGE else 3, n)  # many photos: fewer folds are as precise
    # each fold must leave photos on both sides (a fold of everything tells nothing)
    test_masks = [t for t in _folds(problem, folds) if bool(t.any()) and bool((~t).any())] if folds >= 2 else []
    final_w, final_c, held_out = w0.clone(), zero_bias.clone(), zero_p.clone()
    failures: dict[int, str] = {}
    for columns, solver in _solver_plan(problem, mode, eligible):
        final_w[columns], final_c[columns], held_out[:, columns], failed = solver(
            problem, columns, w0, test_masks, regularization, mode, held_out[:, columns])
        for position in torch.nonzero(failed).flatten().tolist():
            failures[columns[position]] = NUMERICAL_FAILURE
    for j in failures:  # never a traceback, never a half-fit: zero-shot for that label
        eligible[j] = False
        final_w[j], final_c[j], held_out[:, j] = w0[j], zero_bias[j], zero_p[:, j]
    if failures:
        log.warning("%s: %d label(s) kept zero-shot, their fit failed numerically: %s", label_set.name,
                    len(failures), ", ".join(label_set.labels[j].keyword for j in sorted(failures)))
    stats = []
    weight_rows, bias_rows = w0.clone(), zero_bias.clone()
    zero_accuracies = _balanced_accuracies(zero_p, problem.target, problem.weight, label_set.threshold)
    learned_accuracies = _balanced_accuracies(held_out, problem.target, problem.weight, label_set.threshold)
    def by_label(m: Any) -> Any:  # one label's values side by side
        return m.T.contiguous()

    zero_t, held_t, target_t, weight_t = (by_label(m) for m in (zero_p, held_out, problem.target, problem.weight))
    for j, label in enumerate(label_set.labels):
        zero_acc = zero_accuracies[j]
        learned_acc = learned_accuracies[j] if eligible[j] else None
        used = bool(eligible[j] and learned_acc is not None and zero_acc is not None and learned_acc > zero_acc + 1e-9)
        base = label_set.threshold if label.threshold is None else label.threshold  # zero-shot's, in force
        threshold = calibrated_threshold_of(held_t[j] if used else zero_t[j], target_t[j], weight_t[j], target_precision, base)
        learned_in_force = threshold if label.threshold is None and threshold is not None else base  # yours wins
        if used and hides_accepted(zero_t[j], held_t[j], target_t[j], weight_t[j], base, learned_in_force):
            used, failures[j] = False, HIDES_ZERO_SHOT_TAGS
            threshold = calibrated_threshold_of(zero_t[j], target_t[j], weight_t[j], target_precision, base)
        if used:
            weight_rows[j], bias_rows[j] = final_w[j], final_c[j]
        stats.append(LabelStats(label.keyword, problem.positives[j], problem.negatives[j], zero_acc, learned_acc,
                                used, threshold, failures.get(j)))
    head = SetHead(label_set.name, mode, tuple(l.keyword for l in label_set.labels),
                   weight_rows.float(), bias_rows.float(), stats)
    accepted = (problem.target > 0) & (problem.weight > 0)
    return keep_zero_shot_finds(head, problem.x.float(), accepted, prototypes, logit_scale, w0)


def train_heads(examples: Iterable[Example], prototypes: Sequence[SetPrototypes], logit_scale: float,
                target_precision: float = DEFAULT_TARGET_PRECISION) -> dict[str, SetHead]:
    by_set: dict[str, list[Example]] = {}
    for example in examples:
        by_set.setdefault(example.label_set, []).append(example)
    heads = {}
    for set_prototypes in prototypes:
        name = set_prototypes.label_set.name
        if name in by_set:
            head = train_set_head(by_set[name], set_prototypes, logit_scale, target_precision)
            if head is not None:
                heads[name] = head
    return heads


# ----------------------------------------------------------------------------- storage


